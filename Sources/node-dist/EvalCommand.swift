import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeModels
import NodeSolvers

/// `node-dist eval`: a trained model's held-out result at a chosen
/// tolerance, from a checkpoint or a config and weights; or a reference
/// workload's weight file on its held-out data (`eval w1|w2`).
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate a trained model (checkpoint, or config + weights) on held-out data.",
    discussion: """
      `node-dist eval --checkpoint runs/cnf-moons` (a run directory: its newest valid \
      checkpoint; or one checkpoint directory), or `--config FILE --weights FILE.safetensors`: \
      test accuracy (classifiers) or mean negative log-likelihood in nats (CNFs) of the \
      config's held-out set (--samples: its first N), and NFE per sample (mean, max), at the \
      config's evaluation tolerance or --rtol/--atol — train at one tolerance, test at a looser \
      one. Prints a table, then one JSON line ({"accuracy": fraction} or {"nll": nats}, with \
      nfe_mean, nfe_max, samples, rtol, atol). CNFs: --points FILE (CSV, one point per line, or \
      .npy of shape (N, D)) evaluates your own points instead, and --output FILE.csv writes \
      one log-density per line in input order. Under mpirun the samples are split across \
      ranks (every rank reads the files; results equal a single rank's). \
      w1: mean negative log-likelihood (nats per point) of the W1 flow on fresh moons samples \
      (seed 1_000_003, never used for training), dopri5 at the given tolerance (default 1e-5). \
      w2: test-set accuracy of the W2 ODE-Net on Fashion-MNIST (or the first --samples test \
      images), ODE block solved by dopri5 with per-sample steps (default tolerance 1e-3).
      """)

  enum Workload: String, ExpressibleByArgument, CaseIterable {
    case w1
    case w2
  }

  @Argument(
    help: ArgumentHelp(
      "A reference workload (w1, w2) to evaluate --weights on; omit it with --checkpoint or --config."
    ))
  var workload: Workload?

  @OptionGroup var source: ModelSource

  @Option(help: "Held-out samples (default: the whole held-out set; w1: 20000).")
  var samples: Int?

  @Option(help: "CNFs: evaluate the log-density of these points (CSV or .npy).")
  var points: String?

  @Option(help: "With --points: write one log-density per line, in input order, to this CSV.")
  var output: String?

  @Option(help: "w1/w2: rtol = atol of the solve (w1: 1e-5, w2: 1e-3 by default).")
  var tolerance: Float?

  @Option(help: "w2: the directory of the Fashion-MNIST IDX files.")
  var data: String = ImageDataset.fashionMNISTDirectory

  func validate() throws {
    if let samples, samples < 1 {
      throw ValidationError("--samples must be at least 1, got \(samples)")
    }
    if let tolerance, !(tolerance >= Float.leastNormalMagnitude && tolerance < 1) {
      throw ValidationError("--tolerance must be in [1.2e-38, 1), got \(tolerance)")
    }
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    guard let workload else {
      if tolerance != nil { throw ValidationError("--tolerance is for w1/w2; use --rtol/--atol") }
      return evaluateModel()
    }
    guard let weights = source.weights, source.checkpoint == nil, source.config == nil else {
      throw ValidationError(
        "eval \(workload.rawValue) needs --weights FILE (and no --checkpoint/--config)")
    }
    if points != nil || output != nil {
      throw ValidationError("--points/--output need a model from --checkpoint or --config")
    }
    if source.rtol != nil || source.atol != nil || !source.overrides.isEmpty {
      throw ValidationError(
        "eval \(workload.rawValue) takes --tolerance; --rtol/--atol/--set are for a model from "
          + "--checkpoint or --config")
    }
    switch workload {
    case .w1:
      try evaluateW1(weights: weights, samples: samples ?? 20_000, tolerance: tolerance ?? 1e-5)
    case .w2: try evaluateW2(weights: weights, tolerance: tolerance ?? 1e-3)
    }
  }
}
