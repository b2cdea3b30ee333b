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
  ///
  /// - Throws: ``SafetensorsError`` when a tensor is missing or its shape does
  ///   not fit: every weight `[out, in]` with `in` the previous layer's `out`,
  ///   the last layer's `out` the first layer's `in` (a field maps `R^D` to
  ///   `R^D`), every bias `[out]`. `-1` in an expected shape stands for any size.
  public convenience init(safetensors file: SafetensorsFile, layerCount: Int) throws {
    var weights: [Tensor<Scalar>] = []
    var biases: [Tensor<Scalar>] = []
    for i in 0..<layerCount {
      let name = "layers.\(i).weight"
      let weight: Tensor<Scalar> = try file.tensor(name)
      let inputs = weights.last?.shape[0] ?? -1
      var outputs = -1
      if i == layerCount - 1, let first = weights.first ?? (weight.rank == 2 ? weight : nil) {
        outputs = first.shape[1]
      }
      let fits =
        weight.rank == 2 && (inputs < 0 || weight.shape[1] == inputs)
        && (outputs < 0 || weight.shape[0] == outputs)
      guard fits else {
        throw SafetensorsError.shapeMismatch(
          source: file.source, tensor: name, expected: [outputs, inputs], found: weight.shape)
      }
      weights.append(weight)
      biases.append(try file.tensor("layers.\(i).bias", expectedShape: [weight.shape[0]]))
    }
    self.init(weights: weights, biases: biases)
  }

  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    network.forward(
      batch.states.base, rows: batch.count, ldx: batch.states.rowStride,
      into: derivatives.base, ldy: derivatives.rowStride)
  }
}
