import NodeCore

/// A convolution that sees the time as an extra input channel: channel 0 is
/// a constant plane of the sample's `t`, the features follow (torchdiffeq's
/// `ConcatConv2d`, the ODE-Net block's layer). Parameters as ``Conv2d``'s
/// with `C + 1` input channels: `weight` `[O, C + 1, kh, kw]`, `bias` `[O]`.
///
/// Through im2col, the time plane is never materialised: the unfolded
/// columns of `[t, x]` are written straight from `t` and `x`, and the time's
/// cotangent is read off the column cotangents. In the lane layout it is one
/// plane of 16 lanes, each sample's `t`, and its cotangent that plane's sum.
public final class ConcatTimeConv2d<Scalar: TensorScalar>: Layer {
  /// The convolution over `[t, x]`.
  public let convolution: Conv2d<Scalar>
  /// The same kernel over the feature planes alone: its columns are rows
  /// `kh·kw ..< (C + 1)·kh·kw` of the full convolution's.
  private let featureColumns: ConvolutionColumns<Scalar>
  /// Which kernel taps fall inside the input, `[kh·kw, H'·W']` (1 or 0): the
  /// time plane's columns are `t` times this, so `[t, x]` is never built.
  private let insideTaps: [Scalar]
  /// The JVP's tangents with their (zero) time plane in front.
  private let concatenated = ScratchBuffer<Scalar>()
  /// The time plane's cotangents of a group of samples, one row each.
  private let timePlaneCotangents = ScratchBuffer<Scalar>()

  /// A layer over `[channels, height, width]` inputs; `geometry` describes
  /// the convolution over the `channels + 1` planes.
  public init(_ geometry: ConvolutionGeometry) {
    precondition(
      geometry.inputChannels >= 2, "a concat-time convolution needs the time plane and features")
    convolution = Conv2d(geometry)
    let g = geometry
    let features = ConvolutionGeometry(
      inputChannels: g.inputChannels - 1, outputChannels: g.outputChannels,
      kernel: (g.kernelHeight, g.kernelWidth), stride: g.stride, padding: g.padding,
      input: (g.inputHeight, g.inputWidth))
    let plane = ConvolutionGeometry(
      inputChannels: 1, outputChannels: 1, kernel: (g.kernelHeight, g.kernelWidth),
      stride: g.stride, padding: g.padding, input: (g.inputHeight, g.inputWidth))
    let ones = [Scalar](repeating: 1, count: g.inputHeight * g.inputWidth)
    var taps = [Scalar](repeating: 0, count: plane.patchSize * plane.outputPixels)
    ones.withUnsafeBufferPointer { o in
      taps.withUnsafeMutableBufferPointer { plane.unfold(o.baseAddress!, into: $0.baseAddress!) }
    }
    insideTaps = taps
    featureColumns = ConvolutionColumns(features)
  }

  /// Kernel taps per plane and output pixels.
  private var tapsAndPixels: (taps: Int, pixels: Int) {
    let g = featureColumns.geometry
    return (g.kernelHeight * g.kernelWidth, g.outputPixels)
  }

  private var plane: Int { convolution.geometry.inputHeight * convolution.geometry.inputWidth }
  public var inputSize: Int { convolution.inputSize - plane }
  public var outputSize: Int { convolution.outputSize }
  public var parameterGradientNeedsOnlyOperands: Bool { true }

  public var parameterTensors: [ParameterTensor] { convolution.parameterTensors }

  /// Writes the columns of `[t, x]` for a block of rows side by side: the
  /// time plane's rows are each row's `t` at the taps inside the input, the
  /// feature planes' are `x` unfolded — exactly the columns of the
  /// concatenated input.
  private func unfold(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    into columns: UnsafeMutablePointer<Scalar>, rowStride ld: Int
  ) {
    let (taps, pixels) = tapsAndPixels
    insideTaps.withUnsafeBufferPointer { inside in
      for tap in 0..<taps {
        let mask = inside.baseAddress! + tap &* pixels
        for s in 0..<x.rows {
          let (line, t) = (columns + (tap &* ld &+ s &* pixels), times[s])
          for p in 0..<pixels { line[p] = t * mask[p] }
        }
      }
    }
    featureColumns.unfold(x, into: columns + taps &* ld, rowStride: ld)
  }

  /// Writes `[t, x]` of rows `first ..< first + count` (at most 16) in the
  /// lane layout (``Conv2d/LaneGather``): the time plane first, lane `s`
  /// holding `t_s` at every pixel, then the features.
  private func gatherLanes(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, first: Int, count: Int,
    into lanes: UnsafeMutablePointer<Scalar>
  ) {
    let width = LaneConvolutionKernels.laneWidth
    for s in 0..<width { lanes[s] = s < count ? times[first + s] : 0 }
    for p in 1..<plane { (lanes + p &* width).update(from: lanes, count: width) }
    LaneConvolutionKernels.toLanes(
      x.rows(from: first, count: count), width: inputSize, into: lanes + plane &* width)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    convolution.convolve(
      rows: x.rows, parameters: parameters, bias: true, into: y,
      unfold: { first, count, columns, ld in
        unfold(
          x.rows(from: first, count: count), times: times + first, into: columns, rowStride: ld)
      },
      laneGather: { gatherLanes(x, times: times, first: $0, count: $1, into: $2) })
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let (taps, pixels) = tapsAndPixels
    convolution.backward(
      rows: x.rows, parameters: parameters, outputCotangent: dy,
      foldsInput: dx != nil || timeCotangents != nil, parameterGradient: parameterGradient,
      rowWeights: rowWeights,
      unfold: { first, count, columns, ld in
        unfold(
          x.rows(from: first, count: count), times: times + first, into: columns, rowStride: ld)
      },
      fold: { first, count, columnCotangents, ld in
        if let timeCotangents {
          // t̄ = Σ over the time plane's in-bounds taps of their column cotangents.
          insideTaps.withUnsafeBufferPointer { inside in
            for s in 0..<count {
              var sum: Scalar = 0
              for tap in 0..<taps {
                sum += VectorReduction.dot(
                  columnCotangents + (tap &* ld &+ s &* pixels),
                  inside.baseAddress! + tap &* pixels,
                  count: pixels)
              }
              timeCotangents[first + s] += sum
            }
          }
        }
        if let dx {
          featureColumns.fold(
            columnCotangents + taps &* ld, rowStride: ld, into: dx.rows(from: first, count: count))
        }
      },
      laneGather: { gatherLanes(x, times: times, first: $0, count: $1, into: $2) },
      laneScatter: { first, count, lanes in
        if let timeCotangents {
          // t̄ = Σ over the time plane's pixels of its cotangents, each sample's own.
          let planes = timePlaneCotangents.reserve(count &* plane)
          LaneConvolutionKernels.fromLanes(
            lanes, width: plane,
            into: MutableMatrixView(base: planes, rows: count, columns: plane))
          for s in 0..<count {
            timeCotangents[first + s] += VectorReduction.sum(planes + s &* plane, count: plane)
          }
        }
        if let dx {
          LaneConvolutionKernels.fromLanes(
            lanes + plane &* LaneConvolutionKernels.laneWidth, width: inputSize,
            into: dx.rows(from: first, count: count))
        }
      })
  }

  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    // Time is held fixed: the time plane's tangent is zero.
    let width = convolution.inputSize
    let padded = concatenated.reserve(x.rows * directions * width)
    for r in 0..<x.rows {
      let source = inputTangents.row(r)
      for k in 0..<directions {
        let row = padded + (r * directions + k) * width
        for i in 0..<plane { row[i] = 0 }
        for i in 0..<inputSize { row[plane + i] = source[k * inputSize + i] }
      }
    }
    convolution.jvp(
      MatrixView(base: padded, rows: x.rows, columns: width), output: y, times: times,
      parameters: parameters,
      inputTangents: MatrixView(base: padded, rows: x.rows, columns: directions * width),
      directions: directions, into: outputTangents)
  }
}
