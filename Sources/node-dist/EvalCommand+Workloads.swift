import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels
import NodeSolvers

extension EvalCommand {
  /// The W1 flow's mean negative log-likelihood on fresh moons.
  func evaluateW1(samples: Int, tolerance: Float) throws {
    let field = try W1Flow.field(weights: URL(fileURLWithPath: weights), as: Float.self)
    let density = try CNFDensity(
      field: field, endTime: 0.5, relativeTolerance: tolerance, absoluteTolerance: tolerance)
    var total = 0.0
    var evaluations = 0.0
    var failed = 0
    let chunk = 2000
    for start in stride(from: 0, to: samples, by: chunk) {
      let count = Swift.min(chunk, samples - start)
      let data: Tensor<Float> = try ToyDensity.moons.sample(
        count: count, seed: 1_000_003, offset: start)
      let (values, statistics) = try density.logLikelihoods(data)
      total -= values.reduce(0.0) { $0 + Double($1) }
      evaluations += statistics.meanFunctionEvaluations * Double(count)
      failed += count - (statistics.statusCounts[.success] ?? 0)
    }
    let nll = total / Double(samples)
    print(
      "W1 \(weights): NLL \(String(format: "%.4f", nll)) nats per point on \(samples) fresh moons")
    var line = JSONLine()
    line.add("workload", "w1")
    line.add("nll", nll, digits: 4)
    line.add("samples", samples)
    line.add("nfe_mean", evaluations / Double(samples), digits: 2)
    line.add("failed", failed)
    print(line)
  }

  /// The W2 ODE-Net's accuracy on the Fashion-MNIST test set.
  func evaluateW2(tolerance: Float) throws {
    let model = ODENetClassifier<Float>()
    try model.load(SafetensorsFile(contentsOf: URL(fileURLWithPath: weights)))
    let test = try ImageDataset.fashionMNIST(split: .test, directory: data)
    let count = Swift.min(samples ?? test.count, test.count)
    let integrator = try ODEIntegrator<Float>(
      method: .dormandPrince,
      controller: .adaptive(
        PIController(relativeTolerance: tolerance, absoluteTolerance: tolerance)))
    var correct = 0
    var evaluations = 0.0
    var largest = 0
    let clock = ContinuousClock()
    let elapsed = try clock.measure {
      for start in stride(from: 0, to: count, by: 128) {
        let indices = Array(start..<Swift.min(start + 128, count))
        let images: Tensor<Float> = test.batch(indices: indices)
        let (logits, statistics) = try model.logits(
          images.reshaped([indices.count, 784]), integrator: integrator)
        for (row, label) in test.labels(at: indices).enumerated() {
          let scores = Array(logits.row(row))
          let predicted = scores.indices.max { scores[$0] < scores[$1] }!
          if predicted == label { correct += 1 }
        }
        evaluations += statistics.meanFunctionEvaluations * Double(indices.count)
        largest = Swift.max(largest, statistics.maxFunctionEvaluations)
      }
    }
    let accuracy = Double(correct) / Double(count)
    print(
      "W2 \(weights): test accuracy \(String(format: "%.2f", 100 * accuracy)) % on \(count) "
        + "Fashion-MNIST test images, ODE block NFE mean "
        + "\(String(format: "%.2f", evaluations / Double(count))) max \(largest)")
    var line = JSONLine()
    line.add("workload", "w2")
    line.add("accuracy", accuracy, digits: 4)
    line.add("samples", count)
    line.add("nfe_mean", evaluations / Double(count), digits: 2)
    line.add("nfe_max", largest)
    line.add(
      "seconds",
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, digits: 1
    )
    print(line)
  }
}
