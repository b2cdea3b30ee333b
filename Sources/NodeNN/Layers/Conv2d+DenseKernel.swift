import NodeCore

/// The `Float` products of same-size convolutions (the ODE block's) through
/// ``DenseKernel``, over a block of samples side by side, on CPUs without
/// AVX-512 (with it, the lane kernels take them: ``usesLaneKernel``).
///
/// Each output of the dense kernel is summed in one fixed order — from the
/// bias, one fused multiply-add per term in increasing order — wherever it
/// sits in the product, so a sample's values never depend on its batch-mates
/// or on the block boundaries (a BLAS GEMM over the block would round the
/// edge columns differently). Against one BLAS GEMM per sample, the weight is
/// read once per block instead of being packed again for every sample.
extension Conv2d {
  /// Whether the products go through the dense kernel (unless
  /// ``usesLaneKernel`` takes them): `Float` with AVX2
  /// and a size-keeping geometry. A property of the layer alone, never of
  /// the batch, so that a sample takes the same path in any batch (the
  /// padded rows are at least 16 wide, what the kernel's wide form needs).
  var usesDenseKernel: Bool {
    Scalar.self == Float.self && DenseKernelSupport.available && im2col.keepsSize
  }

  /// The row stride of a block of `count` samples' columns: whole cache lines
  /// (16 floats), so that every row of the kernel's right-hand side starts on one.
  func blockStride(samples count: Int) -> Int { (count &* geometry.outputPixels + 15) & ~15 }

  /// Zeroes the padding columns `[used, ld)` of `rows` rows.
  func zeroPadding(_ block: UnsafeMutablePointer<Scalar>, rows: Int, used: Int, ld: Int) {
    guard ld > used else { return }
    for i in 0..<rows { (block + (i &* ld &+ used)).update(repeating: 0, count: ld - used) }
  }

  /// `ld` zeros: the bias of a product without one.
  func zeros(_ ld: Int) -> UnsafeMutablePointer<Scalar> {
    let zeros = blockZeros.reserve(ld)
    zeros.update(repeating: 0, count: ld)
    return zeros
  }

  /// ``Conv2d/convolve(rows:parameters:bias:into:unfold:laneGather:)`` through the dense
  /// kernel: the block's columns `[C·kh·kw, samples·H'·W']` are the kernel's
  /// right-hand side and the weight `[O, C·kh·kw]` its rows; the bias is
  /// added as the block's outputs are copied to their samples.
  func convolveInBlocks(
    rows: Int, parameters: UnsafePointer<Scalar>, bias: Bool, into y: MutableMatrixView<Scalar>,
    unfold: ColumnUnfold
  ) {
    let g = geometry
    let (k, pixels, outputs) = (g.patchSize, g.outputPixels, g.outputChannels)
    let b = parameters + outputs * k
    forEachBlock(of: rows) { first, count in
      let ld = blockStride(samples: count)
      let cols = columns.reserve(k * ld)
      unfold(first, count, cols, ld)
      zeroPadding(cols, rows: k, used: count &* pixels, ld: ld)
      let out = blockOutputs.reserve(outputs * ld)
      // The kernel's wide form reads only `transposedWeight` (`[k, ld]`).
      DenseKernel.forward(
        parameters, rows: outputs, inputs: k, ldx: k, weight: cols, transposedWeight: cols,
        bias: zeros(ld), outputs: ld, into: out, ldy: ld, activation: .identity)
      scatter(out, rowStride: ld, first: first, count: count, bias: bias ? b : nil, into: y)
    }
  }

  /// Copies a block's outputs `[O, rowStride]` (samples side by side) to
  /// rows `first ..< first + count` of `y`, adding `bias` if given.
  func scatter(
    _ out: UnsafePointer<Scalar>, rowStride ld: Int, first: Int, count: Int,
    bias: UnsafePointer<Scalar>?, into y: MutableMatrixView<Scalar>
  ) {
    let (pixels, outputs) = (geometry.outputPixels, geometry.outputChannels)
    for s in 0..<count {
      let target = y.row(first + s)
      for o in 0..<outputs {
        let (source, line) = (out + (o &* ld &+ s &* pixels), target + o &* pixels)
        let shift: Scalar = bias?[o] ?? 0
        for p in 0..<pixels { line[p] = source[p] + shift }
      }
    }
  }

  /// The column cotangents `Wᵀ dY` of every sample through the dense kernel
  /// — `Wᵀ` `[C·kh·kw, O]` as the rows, the block's `dY` side by side
  /// `[O, samples·H'·W']` on the right — handed to `fold` block by block.
  func foldInBlocks(
    rows: Int, parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    fold: ColumnFold
  ) {
    let g = geometry
    let (k, pixels, outputs) = (g.patchSize, g.outputPixels, g.outputChannels)
    let wt = transposedWeight.of(parameters, rows: outputs, columns: k)
    forEachBlock(of: rows) { first, count in
      let ld = blockStride(samples: count)
      let bars = blockCotangents.reserve(outputs * ld)
      sideBySide(dy, first: first, count: count, weights: nil, into: bars, rowStride: ld)
      zeroPadding(bars, rows: outputs, used: count &* pixels, ld: ld)
      let colBars = columnCotangents.reserve(k * ld)
      // The kernel's wide form reads only `transposedWeight` (`[O, ld]`).
      DenseKernel.forward(
        wt, rows: k, inputs: outputs, ldx: outputs, weight: bars, transposedWeight: bars,
        bias: zeros(ld), outputs: ld, into: colBars, ldy: ld, activation: .identity)
      fold(first, count, colBars, ld)
    }
  }
}
