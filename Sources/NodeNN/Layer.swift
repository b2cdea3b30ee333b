import NodeCore

/// A named parameter tensor of a layer, in PyTorch's layout.
public struct ParameterTensor: Sendable, Equatable {
  /// The name under the layer's prefix, e.g. `"weight"`, `"bias"`, `"gate_weight"`.
  public let name: String
  /// The shape, e.g. `[out, in]` for a linear weight.
  public let shape: [Int]
  /// How the tensor starts (``Sequential/initialParameters(seed:stream:)``).
  public let initialization: ParameterInitialization

  /// Creates a description.
  public init(name: String, shape: [Int], initialization: ParameterInitialization) {
    self.name = name
    self.shape = shape
    self.initialization = initialization
  }

  /// The number of scalars.
  public var count: Int { shape.reduce(1, *) }
}

/// A differentiable layer over a batch, rows being samples and each row the
/// sample's features flattened (e.g. `C × H × W`).
///
/// Layers are stateless functions of their input, the samples' times and
/// their parameters, which live in a model's one flat buffer (DESIGN.md,
/// decision 1): a layer receives a pointer to its own first parameter. The
/// caller keeps the forward pass's inputs and outputs and hands them back to
/// ``backward(_:output:times:parameters:outputCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
/// and ``jvp(_:output:times:parameters:inputTangents:directions:into:)``.
/// Row `r` of every output depends only on row `r` of the inputs.
public protocol Layer<Scalar>: AnyObject {
  /// The element type.
  associatedtype Scalar: TensorScalar

  /// The number of input features per sample.
  var inputSize: Int { get }
  /// The number of output features per sample.
  var outputSize: Int { get }
  /// The parameter tensors, in the order they sit in the flat buffer.
  var parameterTensors: [ParameterTensor] { get }

  /// Whether the parameter gradient of a backward pass depends on its
  /// operands alone (see the default in the extension below).
  var parameterGradientNeedsOnlyOperands: Bool { get }

  /// Writes the layer's output for every row of `x` into `y`.
  func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>)

  /// The vector-Jacobian product: for output cotangents `dy`, writes the input
  /// cotangents into `dx` (if given), **adds** `dyᵀ ∂y/∂t` into
  /// `timeCotangents` (if given) and **adds** `Σ_r w_r dy_rᵀ ∂y_r/∂θ` into
  /// `parameterGradient` (this layer's part of the flat gradient; `w_r = 1`
  /// when `rowWeights` is nil).
  func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?)

  /// The Jacobian-vector product in `directions` directions at once: row `r`
  /// of `inputTangents` holds `directions` tangents of `inputSize` values one
  /// after another; row `r` of `outputTangents` receives their images
  /// (`directions × outputSize` values). Time is held fixed.
  func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>)
}

/// A layer that can also differentiate its Jacobian-vector product: what a
/// CNF's exact-trace adjoint needs.
public protocol TangentDifferentiableLayer<Scalar>: Layer {
  /// The vector-Jacobian product of the pair map `(x, ẋ) ↦ (y, ẏ)` that
  /// ``forward(_:times:parameters:into:)`` and ``jvp(_:output:times:parameters:inputTangents:directions:into:)``
  /// compute together — what the adjoint of a quantity built from tangents
  /// (a CNF's exact trace) needs, derived by hand per layer.
  ///
  /// Given `ȳ` (`dy`, `[rows, out]`) and `ẏ̄` (`dTangents`, `[rows, K·out]`),
  /// writes `x̄` into `dx` and `ẋ̄` into `dInputTangents` (each if given),
  /// **adds** `t̄` into `timeCotangents` and the weighted `θ̄` into `parameterGradient`.
  func jvpBackward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>,
    outputTangents: MatrixView<Scalar>, directions: Int, outputCotangent dy: MatrixView<Scalar>,
    tangentCotangent dTangents: MatrixView<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?)
}

extension Layer {
  /// The number of parameters.
  public var parameterCount: Int { parameterTensors.reduce(0) { $0 + $1.count } }

  /// Whether the parameter gradient of ``backward(_:output:times:parameters:outputCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
  /// depends on its operands alone, not on anything the layer kept from its
  /// last forward pass — so that ``Sequential`` may replay a kept backward
  /// pass later (``Sequential/replayParameterGradient(of:input:outputCotangent:times:rows:count:parameters:into:rowWeights:)``).
  /// False unless a layer says so.
  public var parameterGradientNeedsOnlyOperands: Bool { false }
}
