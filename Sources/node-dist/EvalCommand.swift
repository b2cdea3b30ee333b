import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels
import NodeSolvers

/// `node-dist eval <workload>`: a weight file's result on its workload's held-out data.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate a weight file on its workload's held-out data.",
    discussion: """
      w1: mean negative log-likelihood (nats per point) of the W1 flow on fresh moons samples \
      (seed 1_000_003, never used for training), dopri5 at the given tolerance (default 1e-5). \
      w2: test-set accuracy of the W2 ODE-Net on Fashion-MNIST (or the first --samples test \
      images), ODE block solved by dopri5 with per-sample steps (default tolerance 1e-3).
      """)

  enum Workload: String, ExpressibleByArgument, CaseIterable {
    case w1
    case w2
  }

  @Argument(help: "The workload: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
  var workload: Workload

  @Option(help: "Weight file (safetensors, the workload's tensor names).")
  var weights: String

  @Option(help: "Held-out samples (w1: 20000 by default; w2: the whole test set).")
  var samples: Int?

  @Option(help: "rtol = atol of the solve (w1: 1e-5, w2: 1e-3 by default).")
  var tolerance: Float?

  @Option(help: "w2: the directory of the Fashion-MNIST IDX files.")
  var data: String = ImageDataset.fashionMNISTDirectory

  func validate() throws {
    if let samples, samples < 1 {
      throw ValidationError("--samples must be at least 1, got \(samples)")
    }
    if let tolerance, !(tolerance > 0 && tolerance < 1) {
      throw ValidationError("--tolerance must be in (0, 1), got \(tolerance)")
    }
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    switch workload {
    case .w1: try evaluateW1(samples: samples ?? 20_000, tolerance: tolerance ?? 1e-5)
    case .w2: try evaluateW2(tolerance: tolerance ?? 1e-3)
    }
  }
}
