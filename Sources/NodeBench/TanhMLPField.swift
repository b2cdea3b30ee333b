import NodeCore
import NodeSolvers

/// An autonomous multilayer-perceptron vector field: dense layers with tanh
/// between them and none after the last, `f(z) = W_L tanh(… tanh(W_1 z + b_1) …) + b_L`.
///
/// Weights are in PyTorch's layout (`[out, in]`). This is the W3 workload's
/// field (2 → 64 → 64 → 2); the layer library will absorb it. Each layer is a
/// fused ``DenseLayer``, so a row's output is bitwise independent of the batch.
public final class TanhMLPField<Scalar: TensorScalar>: VectorField {
  /// The layers, first to last.
  public let layers: [DenseLayer<Scalar>]
  private let activations: [ScratchBuffer<Scalar>]

  public var dimension: Int { layers[0].inputWidth }

  /// Creates the field from per-layer weights (`[out, in]`) and biases (`[out]`).
  ///
  /// - Precondition: consecutive layers chain and the last maps back to the input dimension.
  public init(weights: [Tensor<Scalar>], biases: [Tensor<Scalar>]) {
    precondition(!weights.isEmpty && weights.count == biases.count)
    layers = zip(weights, biases).enumerated().map { i, layer in
      DenseLayer(
        weight: layer.0, bias: layer.1, activation: i < weights.count - 1 ? .tanh : .identity)
    }
    for (previous, next) in zip(layers, layers.dropFirst()) {
      precondition(previous.outputWidth == next.inputWidth, "layers do not chain")
    }
    precondition(layers.last!.outputWidth == layers[0].inputWidth, "the field must map R^D to R^D")
    activations = layers.dropLast().map { _ in ScratchBuffer<Scalar>() }
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
    let n = batch.count
    var input = batch.states.base
    var inputStride = batch.states.rowStride
    for (i, layer) in layers.enumerated() {
      let isLast = i == layers.count - 1
      let output = isLast ? derivatives.base : activations[i].reserve(n * layer.outputWidth)
      let outputStride = isLast ? derivatives.rowStride : layer.outputWidth
      layer.forward(input, rows: n, ldx: inputStride, into: output, ldy: outputStride)
      input = UnsafePointer(output)
      inputStride = outputStride
    }
  }
}
