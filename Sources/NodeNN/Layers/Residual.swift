import NodeCore

/// A residual block `y = x + g(x)` around a chain `g` of the same input and
/// output size (torchdiffeq's `ResBlock` without downsampling: its body is
/// norm, ReLU, conv, norm, ReLU, conv).
///
/// The body's parameters are this layer's, named under the body's own layer
/// names (e.g. `norm1.weight`, `conv1.weight`). The body keeps the
/// activations of the last forward pass, so — as for every ``Layer`` — call
/// ``backward(_:output:times:parameters:outputCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
/// and ``jvp(_:output:times:parameters:inputTangents:directions:into:)``
/// after the forward pass they belong to.
public final class Residual<Scalar: TensorScalar>: Layer {
  /// The residual branch `g`.
  public let body: Sequential<Scalar>

  /// A block around `body`.
  ///
  /// - Precondition: the body maps its input size to the same size.
  public init(_ body: Sequential<Scalar>) {
    precondition(
      body.inputSize == body.outputSize,
      "a residual body must keep its size, got \(body.inputSize) → \(body.outputSize)")
    self.body = body
  }

  public var inputSize: Int { body.inputSize }
  public var outputSize: Int { body.outputSize }
  public var parameterTensors: [ParameterTensor] {
    zip(body.layers, body.names).flatMap { layer, name in
      layer.parameterTensors.map {
        ParameterTensor(
          name: (name.map { $0 + "." } ?? "") + $0.name, shape: $0.shape,
          initialization: $0.initialization)
      }
    }
  }

  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    body.forward(x, times: times, parameters: parameters, into: y)
    addRows(x, into: y)
  }

  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    // x̄ = ȳ + ȳᵀ ∂g/∂x.
    body.backward(
      times: times, parameters: parameters, outputCotangent: dy, inputCotangent: dx,
      timeCotangents: timeCotangents, parameterGradient: parameterGradient, rowWeights: rowWeights)
    if let dx { addRows(dy, into: dx) }
  }

  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    body.jvp(
      times: times, parameters: parameters, inputTangents: inputTangents, directions: directions,
      into: outputTangents)
    addRows(inputTangents, into: outputTangents)
  }

  /// `target[r] += source[r]` for every row (their widths agree).
  private func addRows(_ source: MatrixView<Scalar>, into target: MutableMatrixView<Scalar>) {
    for r in 0..<source.rows {
      let (s, t) = (source.row(r), target.row(r))
      for i in 0..<source.columns { t[i] += s[i] }
    }
  }
}
