import NodeCore
import NodeSolvers

/// An autonomous multilayer-perceptron vector field: dense layers with tanh
/// between them and none after the last, `f(z) = W_L tanh(… tanh(W_1 z + b_1) …) + b_L`.
///
/// Weights are in PyTorch's layout (`[out, in]`). This is the W3 workload's
/// field (2 → 64 → 64 → 2); the layer library will absorb it. Each layer is a
/// ``DenseChain``, so a row's output is bitwise independent of the batch.
public final class TanhMLPField<Scalar: TensorScalar>: VectorField {
  /// The network.
  public let network: DenseChain<Scalar>

  /// The layers, first to last.
  public var layers: [DenseLayer<Scalar>] { network.layers }

  public var dimension: Int { network.inputWidth }

  /// Creates the field from per-layer weights (`[out, in]`) and biases (`[out]`).
  ///
  /// - Precondition: consecutive layers chain and the last maps back to the input dimension.
  public init(weights: [Tensor<Scalar>], biases: [Tensor<Scalar>]) {
    precondition(!weights.isEmpty && weights.count == biases.count)
    network = DenseChain(
      zip(weights, biases).enumerated().map { i, layer in
        DenseLayer(
          weight: layer.0, bias: layer.1, activation: i < weights.count - 1 ? .tanh : .identity)
      })
    precondition(network.outputWidth == network.inputWidth, "the field must map R^D to R^D")
  }

  /// Loads `layers.{i}.weight` and `layers.{i}.bias` for `i = 0 ..< layerCount`
  /// from a safetensors file (PyTorch `nn.Sequential` naming without activations).
  public convenience init(safetensors file: SafetensorsFile, layerCount: Int) throws {
    var weights: [Tensor<Scalar>] = []
    var biases: [Tensor<Scalar>] = []
    for i in 0..<layerCount {
      weights.append(try file.tensor("layers.\(i).weight"))
      biases.append(try file.tensor("layers.\(i).bias", expectedShape: [weights[i].shape[0]]))
    }
    self.init(weights: weights, biases: biases)
  }

  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    network.forward(
      batch.states.base, rows: batch.count, ldx: batch.states.rowStride,
      into: derivatives.base, ldy: derivatives.rowStride)
  }
}
