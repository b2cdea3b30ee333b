import NodeCore

/// A 2-D convolution (PyTorch's `nn.Conv2d`): parameters `weight`
/// `[O, C, kh, kw]` then, unless built without one, `bias` `[O]`; each row is
/// one sample `[C, H, W]` in, `[O, H', W']` out.
///
/// A sample's output and input cotangent never depend on its batch-mates,
/// whichever path computes them:
/// - `Float` on a CPU with AVX-512: sixteen samples in the vector lanes, the
///   taps over the border skipped, for any stride and padding and up to 49
///   taps (7 × 7), weight gradient included (`Conv2d+LaneKernel.swift`);
///   every lane's sums are its own.
/// - `Float` with AVX2, size-keeping maps: the unfolded columns (im2col)
///   through ``DenseKernel`` over a block of samples side by side, every
///   output summed in the same order wherever it sits (`Conv2d+DenseKernel.swift`).
/// - Otherwise each sample is unfolded and multiplied by the weight —
///   `[O, C·kh·kw] × [C·kh·kw, H'·W']` — in one BLAS GEMM per sample (one
///   over a block would be faster, but OpenBLAS's edge kernels round the
///   last columns differently, which a per-sample adaptive solve would see).
/// Outside the lanes the weight gradient, a sum over the batch anyway, is
/// one GEMM per block of samples unfolded side by side.
public final class Conv2d<Scalar: TensorScalar>: Layer {
  /// The shape of the convolution.
  public let geometry: ConvolutionGeometry
  /// Whether the layer adds a learned bias per output channel.
  public let hasBias: Bool
  let columns = ScratchBuffer<Scalar>()
  let columnCotangents = ScratchBuffer<Scalar>()
  let blockOutputs = ScratchBuffer<Scalar>()
  let blockCotangents = ScratchBuffer<Scalar>()
  let blockZeros = ScratchBuffer<Scalar>()
  /// `Wᵀ`, `[C·kh·kw, O]`, for the input cotangents through the dense kernel.
  let transposedWeight = TransposedWeight<Scalar>()
  /// im2col and col2im of ``geometry``.
  let im2col: ConvolutionColumns<Scalar>
  /// What each output pixel reads, for the lane kernels (built on first use:
  /// only `Float` layers on AVX-512 need it).
  lazy var laneMap = ConvolutionLaneMap(
    input: (geometry.inputHeight, geometry.inputWidth),
    kernel: (geometry.kernelHeight, geometry.kernelWidth), stride: geometry.stride,
    padding: geometry.padding)
  /// A group's (or block of groups') inputs in the lane layout.
  let laneInputs = ScratchBuffer<Scalar>()
  /// The bias of every output value, for the lane kernels.
  let expandedBias = ScratchBuffer<Scalar>()
  /// The weight with its taps outermost, for the lane kernels.
  let tapMajorWeight = TapMajorWeight<Scalar>()
  /// The transposed convolution's weight, for the lane kernels.
  let transposedTapMajorWeight = TapMajorWeight<Scalar>(transposed: true)
  /// Whether the products may go through the lane kernels where they run
  /// (tests turn them off to compare with the im2col paths).
  var laneKernelEnabled = true
  /// The most values of a block of lane groups for the weight gradient
  /// (4 MB of `Float`): the lanes of every group of a block are summed
  /// before they are reduced, so a block should hold many groups. Tests
  /// lower it to cover several blocks.
  var laneBudget = 1 << 20

  /// The most unfolded values per block (512 KB of `Float`: a block's columns stay in L2).
  static var columnBudget: Int { 1 << 17 }

  /// A convolution of the given geometry, with a bias unless `bias` is false
  /// (ResNet blocks' convolutions, followed by a norm, have none).
  public init(_ geometry: ConvolutionGeometry, bias: Bool = true) {
    self.geometry = geometry
    hasBias = bias
    im2col = ConvolutionColumns(geometry)
  }

  /// Writes the columns of samples `first ..< first + count` side by side,
  /// `[C·kh·kw, count·H'·W']`, rows `rowStride` apart.
  typealias ColumnUnfold = (
    _ first: Int, _ count: Int, _ columns: UnsafeMutablePointer<Scalar>, _ rowStride: Int
  ) -> Void
  /// Takes the column cotangents of samples `first ..< first + count` (as a
  /// ``ColumnUnfold`` lays them out) back onto their inputs.
  typealias ColumnFold = (
    _ first: Int, _ count: Int, _ columnCotangents: UnsafePointer<Scalar>, _ rowStride: Int
  ) -> Void

  /// Writes the inputs of samples `first ..< first + count` (at most 16) in
  /// the lane layout of ``LaneConvolutionKernels/toLanes(_:width:scales:into:)``:
  /// value `j` of sample `first + i` (`[C, H, W]`) at `lanes + 16 j + i`.
  typealias LaneGather = (
    _ first: Int, _ count: Int, _ lanes: UnsafeMutablePointer<Scalar>
  ) -> Void

  /// Takes the input cotangents of samples `first ..< first + count`, in the
  /// lane layout as a ``LaneGather`` writes them, back onto the samples.
  typealias LaneScatter = (_ first: Int, _ count: Int, _ lanes: UnsafePointer<Scalar>) -> Void

  /// Samples per block: as many as fit the column budget, at least one.
  var samplesPerBlock: Int {
    max(1, Self.columnBudget / max(1, geometry.patchSize * geometry.outputPixels))
  }

  /// Calls `body(first, count)` for consecutive blocks of `rows` samples,
  /// `size` at a time (``samplesPerBlock`` by default).
  func forEachBlock(of rows: Int, size: Int? = nil, _ body: (Int, Int) -> Void) {
    let size = size ?? samplesPerBlock
    var first = 0
    while first < rows {
      let count = min(size, rows - first)
      body(first, count)
      first += count
    }
  }

  public var inputSize: Int { geometry.inputSize }
  public var outputSize: Int { geometry.outputSize }
  public var parameterGradientNeedsOnlyOperands: Bool { true }

  public var parameterTensors: [ParameterTensor] {
    let g = geometry
    let initialization = ParameterInitialization.kaimingUniform(fanIn: g.patchSize)
    let weight = ParameterTensor(
      name: "weight", shape: [g.outputChannels, g.inputChannels, g.kernelHeight, g.kernelWidth],
      initialization: initialization)
    guard hasBias else { return [weight] }
    return [
      weight,
      ParameterTensor(name: "bias", shape: [g.outputChannels], initialization: initialization),
    ]
  }

  /// `y = W ⋆ x (+ b)` for every row, each sample's product its own.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func convolve(
    _ x: MatrixView<Scalar>, parameters: UnsafePointer<Scalar>, bias: Bool,
    into y: MutableMatrixView<Scalar>
  ) {
    convolve(
      rows: x.rows, parameters: parameters, bias: bias, into: y,
      unfold: { first, count, cols, ld in
        im2col.unfold(x.rows(from: first, count: count), into: cols, rowStride: ld)
      },
      laneGather: {
        LaneConvolutionKernels.toLanes(x.rows(from: $0, count: $1), width: inputSize, into: $2)
      })
  }

  /// `y = W ⋆ x (+ b)` for every row, each sample's product its own, where
  /// `unfold(first, count, columns, rowStride)` writes the columns of rows
  /// `first ..< first + count` side by side, `[C·kh·kw, count·H'·W']`, and
  /// `laneGather` up to sixteen of them in the lane layout (the lane
  /// kernels' input, used where they run).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func convolve(
    rows: Int, parameters: UnsafePointer<Scalar>, bias: Bool, into y: MutableMatrixView<Scalar>,
    unfold: ColumnUnfold, laneGather: LaneGather
  ) {
    let g = geometry
    let (k, pixels) = (g.patchSize, g.outputPixels)
    let b = parameters + g.outputChannels * k
    if usesLaneKernel {
      convolveInLanes(rows: rows, parameters: parameters, bias: bias, into: y, gather: laneGather)
      return
    }
    if usesDenseKernel {
      convolveInBlocks(rows: rows, parameters: parameters, bias: bias, into: y, unfold: unfold)
      return
    }
    let cols = columns.reserve(k * pixels)
    for r in 0..<rows {
      unfold(r, 1, cols, pixels)
      let out = y.row(r)
      for o in 0..<g.outputChannels {
        let value: Scalar = bias ? b[o] : 0
        let line = out + o &* pixels
        for p in 0..<pixels { line[p] = value }
      }
      gemm(
        .none, .none, m: g.outputChannels, n: pixels, k: k, a: parameters, lda: k, b: cols,
        ldb: pixels, beta: 1, c: out, ldc: pixels)
    }
  }

  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    convolve(x, parameters: parameters, bias: hasBias, into: y)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    backward(
      rows: x.rows, parameters: parameters, outputCotangent: dy, foldsInput: dx != nil,
      parameterGradient: parameterGradient, rowWeights: rowWeights,
      unfold: { first, count, cols, ld in
        im2col.unfold(x.rows(from: first, count: count), into: cols, rowStride: ld)
      },
      fold: { first, count, colBars, ld in
        if let dx { im2col.fold(colBars, rowStride: ld, into: dx.rows(from: first, count: count)) }
      },
      laneGather: {
        LaneConvolutionKernels.toLanes(x.rows(from: $0, count: $1), width: inputSize, into: $2)
      },
      laneScatter: { first, count, lanes in
        if let dx {
          LaneConvolutionKernels.fromLanes(
            lanes, width: geometry.inputSize, into: dx.rows(from: first, count: count))
        }
      })
  }

  /// The backward pass over `rows` samples whose columns `unfold` writes (as
  /// in ``convolve(rows:parameters:bias:into:unfold:laneGather:)``): when `foldsInput`,
  /// the column cotangents `Wᵀ dY` of rows `first ..< first + count`
  /// (`[C·kh·kw, count·H'·W']`, rows `rowStride` apart) go to
  /// `fold(first, count, columnCotangents, rowStride)` — or, where the lane
  /// kernels run, the input cotangents themselves, up to sixteen samples' in
  /// the lane layout at a time, to `laneScatter` (their inputs, for the
  /// weight gradient, from `laneGather`); the weighted `dW`, `db` are added
  /// into `parameterGradient`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func backward(
    rows: Int, parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    foldsInput: Bool, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?,
    unfold: ColumnUnfold, fold: ColumnFold, laneGather: LaneGather, laneScatter: LaneScatter
  ) {
    let g = geometry
    let (k, pixels, outputs) = (g.patchSize, g.outputPixels, g.outputChannels)
    if foldsInput && usesLaneKernel {
      inputCotangentsInLanes(
        rows: rows, parameters: parameters, outputCotangent: dy, scatter: laneScatter)
    } else if foldsInput && usesDenseKernel {
      foldInBlocks(rows: rows, parameters: parameters, outputCotangent: dy, fold: fold)
    } else if foldsInput {
      // dcols = Wᵀ dY, folded back onto the input: one BLAS GEMM per sample.
      let colBars = columnCotangents.reserve(k * pixels)
      for r in 0..<rows {
        gemm(
          .transposed, .none, m: k, n: pixels, k: outputs, a: parameters, lda: k, b: dy.row(r),
          ldb: pixels, c: colBars, ldc: pixels)
        fold(r, 1, colBars, pixels)
      }
    }
    guard let gradient = parameterGradient else { return }
    if usesLaneKernel {
      accumulateWeightGradientInLanes(
        rows: rows, outputCotangent: dy, rowWeights: rowWeights, into: gradient,
        gather: laneGather)
      return
    }
    // dW += Σ_s w_s dY_s colsᵀ_s, db += Σ_s w_s Σ_p dY_s: the block's
    // weighted cotangents side by side, [O, samples·P], then one GEMM.
    forEachBlock(of: rows) { first, count in
      let ld = count &* pixels
      let bars = blockCotangents.reserve(outputs * ld)
      let cols = columns.reserve(k * ld)
      sideBySide(dy, first: first, count: count, weights: rowWeights, into: bars, rowStride: ld)
      unfold(first, count, cols, ld)
      gemm(
        .none, .transposed, m: outputs, n: k, k: ld, a: bars, lda: ld, b: cols, ldb: ld,
        beta: 1, c: gradient, ldc: k)
      if hasBias {
        let biasGradient = gradient + outputs * k
        for o in 0..<outputs {
          biasGradient[o] += VectorReduction.sum(bars + o &* ld, count: ld)
        }
      }
    }
  }

  /// Copies the cotangents `dy` of samples `first ..< first + count` side by
  /// side into `bars` `[O, ld]`, each times its row weight when given.
  func sideBySide(
    _ dy: MatrixView<Scalar>, first: Int, count: Int, weights: UnsafePointer<Scalar>?,
    into bars: UnsafeMutablePointer<Scalar>, rowStride ld: Int
  ) {
    let (pixels, outputs) = (geometry.outputPixels, geometry.outputChannels)
    for s in 0..<count {
      let (upstream, w) = (dy.row(first + s), weights?[first + s] ?? 1)
      for o in 0..<outputs {
        let (source, line) = (upstream + o &* pixels, bars + (o &* ld &+ s &* pixels))
        if weights == nil {
          line.update(from: source, count: pixels)
        } else {
          for p in 0..<pixels { line[p] = w * source[p] }
        }
      }
    }
  }

  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    // Linear in x: each direction is the convolution of the tangent, without
    // bias. Contiguous tangents go as one batch of rows × directions samples
    // (16 to a lane group), each still its own.
    if inputTangents.rowStride == directions * inputSize
      && outputTangents.rowStride == directions * outputSize
    {
      let count = x.rows * directions
      convolve(
        MatrixView(base: inputTangents.base, rows: count, columns: inputSize),
        parameters: parameters, bias: false,
        into: MutableMatrixView(base: outputTangents.base, rows: count, columns: outputSize))
      return
    }
    for r in 0..<x.rows {
      convolve(
        MatrixView(base: inputTangents.row(r), rows: directions, columns: inputSize),
        parameters: parameters, bias: false,
        into: MutableMatrixView(base: outputTangents.row(r), rows: directions, columns: outputSize))
    }
  }
}
