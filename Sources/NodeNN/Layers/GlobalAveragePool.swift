import NodeCore

/// The mean of each channel over its pixels: `[C, H, W]` in, `[C]` out.
public final class GlobalAveragePool<Scalar: TensorScalar>: Layer {
  /// Channels and pixels per channel.
  public let channels: Int
  public let pixels: Int

  /// Pooling of `channels × pixels` features.
  public init(channels: Int, pixels: Int) {
    self.channels = channels
    self.pixels = pixels
  }

  public var inputSize: Int { channels * pixels }
  public var outputSize: Int { channels }
  public var parameterTensors: [ParameterTensor] { [] }

  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    average(x, rows: x.rows, into: y)
  }

  private func average(_ x: MatrixView<Scalar>, rows: Int, into y: MutableMatrixView<Scalar>) {
    let scale = 1 / Scalar(pixels)
    for r in 0..<rows {
      let (source, target) = (x.row(r), y.row(r))
      for c in 0..<channels {
        var sum: Scalar = 0
        for p in 0..<pixels { sum += source[c * pixels + p] }
        target[c] = sum * scale
      }
    }
  }

  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    guard let dx else { return }
    let scale = 1 / Scalar(pixels)
    for r in 0..<x.rows {
      let (upstream, target) = (dy.row(r), dx.row(r))
      for c in 0..<channels {
        for p in 0..<pixels { target[c * pixels + p] = upstream[c] * scale }
      }
    }
  }

  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    average(
      MatrixView(base: inputTangents.base, rows: x.rows * directions, columns: inputSize),
      rows: x.rows * directions,
      into: MutableMatrixView(
        base: outputTangents.base, rows: x.rows * directions, columns: channels))
  }
}
