import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels

/// `node-dist eval w1`: the mean negative log-likelihood of a W1 weight file
/// on fresh moons samples.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate a weight file on its workload's held-out data.",
    discussion: """
      w1: mean negative log-likelihood (nats per point) of the W1 flow on fresh moons samples \
      (seed 1_000_003, never used for training), dopri5 at the given tolerance.
      """)

  enum Workload: String, ExpressibleByArgument, CaseIterable {
    case w1
  }

  @Argument(help: "The workload: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
  var workload: Workload

  @Option(help: "Weight file (safetensors, the workload's tensor names).")
  var weights: String

  @Option(help: "Held-out samples.")
  var samples: Int = 20_000

  @Option(help: "rtol = atol of the solve.")
  var tolerance: Float = 1e-5

  func validate() throws {
    guard samples >= 1 else {
      throw ValidationError("--samples must be at least 1, got \(samples)")
    }
    guard tolerance > 0 && tolerance < 1 else {
      throw ValidationError("--tolerance must be in (0, 1), got \(tolerance)")
    }
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
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
}
