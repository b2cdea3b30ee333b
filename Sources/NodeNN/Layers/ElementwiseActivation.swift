import NodeCore
import RealModule

/// An element-wise nonlinearity.
public enum ActivationFunction: String, Sendable, CaseIterable, Codable {
  case relu, tanh, softplus, sigmoid, elu, identity

  /// `σ(x)`.
  @inlinable
  public func value<Scalar: TensorScalar>(_ x: Scalar) -> Scalar {
    switch self {
    case .relu: return x > 0 ? x : 0
    case .tanh: return Scalar.tanh(x)
    case .softplus:
      return x > 0 ? x + Scalar.log(onePlus: Scalar.exp(-x)) : Scalar.log(onePlus: Scalar.exp(x))
    case .sigmoid: return 1 / (1 + Scalar.exp(-x))
    case .elu: return x > 0 ? x : Scalar.expMinusOne(x)
    case .identity: return x
    }
  }

  /// `σ'(x)` from the input `x` and the output `y = σ(x)`.
  @inlinable
  public func derivative<Scalar: TensorScalar>(input x: Scalar, output y: Scalar) -> Scalar {
    switch self {
    case .relu: return x > 0 ? 1 : 0
    case .tanh: return 1 - y * y
    case .softplus: return 1 / (1 + Scalar.exp(-x))
    case .sigmoid: return y * (1 - y)
    case .elu: return x > 0 ? 1 : y + 1
    case .identity: return 1
    }
  }
}

extension ActivationFunction {
  /// `σ''(x)` from the input `x` and the output `y = σ(x)`.
  @inlinable
  public func secondDerivative<Scalar: TensorScalar>(input x: Scalar, output y: Scalar) -> Scalar {
    switch self {
    case .relu, .identity: return 0
    case .tanh: return -2 * y * (1 - y * y)
    case .softplus:
      let s = 1 / (1 + Scalar.exp(-x))
      return s * (1 - s)
    case .sigmoid: return y * (1 - y) * (1 - 2 * y)
    case .elu: return x > 0 ? 0 : y + 1
    }
  }
}

/// An element-wise activation layer `y = σ(x)`, without parameters.
public final class ElementwiseActivation<Scalar: TensorScalar>: TangentDifferentiableLayer {
  /// The nonlinearity.
  public let function: ActivationFunction
  public let inputSize: Int
  public var outputSize: Int { inputSize }
  public var parameterTensors: [ParameterTensor] { [] }

  /// An activation over `size` features.
  public init(_ function: ActivationFunction, size: Int) {
    self.function = function
    self.inputSize = size
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    // Contiguous rows: one kernel call over the whole batch.
    let contiguous = x.rowStride == inputSize && y.rowStride == inputSize
    let (rows, width) = contiguous ? (1, x.rows * inputSize) : (x.rows, inputSize)
    for r in 0..<rows {
      let input = x.base + r &* x.rowStride
      let output = y.base + r &* y.rowStride
      switch function {
      case .tanh: VectorMath.tanh(input, into: output, count: width)
      case .sigmoid: VectorMath.sigmoid(input, into: output, count: width)
      case .relu: VectorMath.relu(input, into: output, count: width)
      default:
        for i in 0..<width { output[i] = function.value(input[i]) }
      }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    guard let dx else { return }
    if function == .relu {
      for r in 0..<x.rows {
        VectorMath.reluBackward(
          input: x.row(r), outputCotangent: dy.row(r), into: dx.row(r), count: inputSize)
      }
      return
    }
    for r in 0..<x.rows {
      let (input, output, upstream, result) = (x.row(r), y.row(r), dy.row(r), dx.row(r))
      for i in 0..<inputSize {
        result[i] = upstream[i] * function.derivative(input: input[i], output: output[i])
      }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    if function == .tanh {
      TangentKernels.tanhJVP(
        output: y, tangents: inputTangents, blocks: directions, into: outputTangents)
      return
    }
    for r in 0..<x.rows {
      let (input, output) = (x.row(r), y.row(r))
      let (tangent, result) = (inputTangents.row(r), outputTangents.row(r))
      for i in 0..<inputSize {
        let slope = function.derivative(input: input[i], output: output[i])
        for k in 0..<directions { result[k * inputSize + i] = slope * tangent[k * inputSize + i] }
      }
    }
  }

  /// `ẏ = σ'(x) ẋ`: `x̄ = σ'(x) ȳ + σ''(x) Σ_k ẋ_k ẏ̄_k`, `ẋ̄_k = σ'(x) ẏ̄_k`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvpBackward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>,
    outputTangents: MatrixView<Scalar>, directions: Int, outputCotangent dy: MatrixView<Scalar>,
    tangentCotangent dTangents: MatrixView<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    let size = inputSize
    if function == .tanh {
      TangentKernels.tanhJVPBackward(
        output: y, outputCotangent: dy, tangents: inputTangents, tangentCotangents: dTangents,
        blocks: directions, inputCotangent: dx, inputTangentCotangent: dInputTangents)
      return
    }
    for r in 0..<x.rows {
      let (input, output, upstream) = (x.row(r), y.row(r), dy.row(r))
      let (tangent, tangentBar) = (inputTangents.row(r), dTangents.row(r))
      for i in 0..<size {
        let slope = function.derivative(input: input[i], output: output[i])
        var mixed: Scalar = 0
        for k in 0..<directions { mixed += tangent[k * size + i] * tangentBar[k * size + i] }
        if let dx {
          dx.row(r)[i] =
            slope * upstream[i] + function.secondDerivative(input: input[i], output: output[i])
            * mixed
        }
        if let dInputTangents {
          for k in 0..<directions {
            dInputTangents.row(r)[k * size + i] = slope * tangentBar[k * size + i]
          }
        }
      }
    }
  }
}
