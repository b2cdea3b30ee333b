import NodeCore

/// A convolution that sees the time as an extra input channel: channel 0 is
/// a constant plane of the sample's `t`, the features follow (torchdiffeq's
/// `ConcatConv2d`, the ODE-Net block's layer). Parameters as ``Conv2d``'s
/// with `C + 1` input channels: `weight` `[O, C + 1, kh, kw]`, `bias` `[O]`.
public final class ConcatTimeConv2d<Scalar: TensorScalar>: Layer {
  /// The convolution over `[t, x]`.
  public let convolution: Conv2d<Scalar>
  private let concatenated = ScratchBuffer<Scalar>()
  private let concatenatedCotangents = ScratchBuffer<Scalar>()

  /// A layer over `[channels, height, width]` inputs; `geometry` describes
  /// the convolution over the `channels + 1` planes.
  public init(_ geometry: ConvolutionGeometry) {
    precondition(
      geometry.inputChannels >= 2, "a concat-time convolution needs the time plane and features")
    convolution = Conv2d(geometry)
  }

  private var plane: Int { convolution.geometry.inputHeight * convolution.geometry.inputWidth }
  public var inputSize: Int { convolution.inputSize - plane }
  public var outputSize: Int { convolution.outputSize }
  public var parameterTensors: [ParameterTensor] { convolution.parameterTensors }

  /// `[t, x]` for every row, in the scratch buffer.
  private func withTime(_ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>) -> MatrixView<Scalar>
  {
    let width = convolution.inputSize
    let buffer = concatenated.reserve(x.rows * width)
    let (plane, size) = (plane, inputSize)
    for r in 0..<x.rows {
      let (row, t) = (buffer + r &* width, times[r])
      for i in 0..<plane { row[i] = t }
      let (source, rest) = (x.row(r), row + plane)
      for i in 0..<size { rest[i] = source[i] }
    }
    return MatrixView(base: buffer, rows: x.rows, columns: width)
  }

  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    convolution.forward(withTime(x, times: times), times: times, parameters: parameters, into: y)
  }

  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let needsInput = dx != nil || timeCotangents != nil
    let width = convolution.inputSize
    let bars = concatenatedCotangents.reserve(x.rows * width)
    convolution.backward(
      withTime(x, times: times), output: y, times: times, parameters: parameters,
      outputCotangent: dy,
      inputCotangent: needsInput
        ? MutableMatrixView(base: bars, rows: x.rows, columns: width) : nil,
      timeCotangents: nil, parameterGradient: parameterGradient, rowWeights: rowWeights)
    guard needsInput else { return }
    let (plane, size) = (plane, inputSize)
    for r in 0..<x.rows {
      let row = bars + r &* width
      if let timeCotangents {
        var sum: Scalar = 0
        for i in 0..<plane { sum += row[i] }
        timeCotangents[r] += sum
      }
      if let dx {
        let (target, rest) = (dx.row(r), row + plane)
        for i in 0..<size { target[i] = rest[i] }
      }
    }
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
