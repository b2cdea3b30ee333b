import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels
import NodeSolvers

extension EvalCommand {
  /// The W1 flow's mean negative log-likelihood on fresh moons.
  func evaluateW1(weights: String, samples: Int, tolerance: Float) throws {
    let field = try W1Flow.field(weights: URL(fileURLWithPath: weights), as: Float.self)
    let result = try HeldOutLikelihood.evaluate(field, samples: samples, tolerance: tolerance)
    let nll = result.nll
    print(
      "W1 \(weights): NLL \(String(format: "%.4f", nll)) nats per point on \(samples) fresh moons")
    var line = JSONLine()
    line.add("workload", "w1")
    line.add("nll", nll, digits: 4)
    line.add("samples", samples)
    line.add("nfe_mean", result.meanEvaluations, digits: 2)
    line.add("nfe_max", result.maxEvaluations)
    line.add("failed", result.failedSamples)
    print(line)
  }

  /// The W2 ODE-Net's accuracy on the Fashion-MNIST test set.
  func evaluateW2(weights: String, tolerance: Float) throws {
    let model = try ODENetClassifier<Float>(tolerance: tolerance)
    try model.load(SafetensorsFile(contentsOf: URL(fileURLWithPath: weights)))
    let test = try ImageDataset.fashionMNIST(split: .test, directory: data)
    let result = try ClassifierEvaluation.evaluate(model, on: test, batchSize: 128, limit: samples)
    print(
      "W2 \(weights): test accuracy \(String(format: "%.2f", 100 * result.accuracy)) % on "
        + "\(result.samples) Fashion-MNIST test images, ODE block NFE mean "
        + "\(String(format: "%.2f", result.meanEvaluations ?? .nan)) max \(result.maxEvaluations)")
    var line = JSONLine()
    line.add("workload", "w2")
    line.add("accuracy", result.accuracy, digits: 4)
    line.add("samples", result.samples)
    line.add("nfe_mean", result.meanEvaluations ?? .nan, digits: 2)
    line.add("nfe_max", result.maxEvaluations)
    line.add("failed", result.failedSamples)
    line.add("seconds", result.seconds, digits: 1)
    print(line)
  }
}
