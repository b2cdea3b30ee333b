import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeSensitivity
import NodeSolvers

/// `node-dist bench <workload>`: times a reference workload of WORKLOADS.md and
/// prints one JSON object on its last line.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Time a reference workload and print its figures as a JSON line.",
    discussion: """
      Workloads: w1 (one CNF training iteration on moons: batch 512, concat-squash 2-64-64-64-2, \
      exact trace, dopri5 rtol = atol = 1e-5, adjoint, Adam); w2 (one ODE-Net training \
      iteration on 128 Fashion-MNIST images: dopri5 rtol = atol = 1e-3, adjoint, SGD momentum); \
      w3 (forward solve of 4096 states through a 2-64-64-2 tanh MLP, dopri5, \
      rtol = atol = 1e-6); memory (one gradient computation on the W3 problem for each \
      gradient mode and tolerance, each in a fresh process, printing its peak memory); conv \
      (the ODE-Net block's concat-time 3x3 convolution, batch 128, width 64, forward and \
      backward GFLOP/s beside cblas_sgemm on 512^3). \
      With --threads N, w1 and w2 cut the batch into N contiguous chunks, each computed by its \
      own thread on its own replica of the model; the chunks' gradients are combined in chunk \
      order and one optimizer step updates the model. Each chunk's loss is its share of the \
      whole batch's mean, so every sample's solves, the NFE and the loss are one thread's and \
      the gradient differs by summation order only. w3 solves chunks of 256 states on N threads; memory and \
      conv run on one thread. \
      Pin to one core for single-thread figures: taskset -c 0 node-dist bench w3 --threads 1
      """)

  enum Workload: String, ExpressibleByArgument, CaseIterable {
    case w1
    case w2
    case w3
    case memory
    case conv
  }

  @Argument(help: "The workload: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
  var workload: Workload

  @Option(
    help:
      "Worker threads: w1, w2 cut the batch into one contiguous chunk per thread, each on its own replica of the model; w3 shares chunks of 256 states among them; memory and conv take 1. BLAS runs one thread per worker."
  )
  var threads: Int = 1

  @Option(help: "Timed iterations (after the warm-up); the median is reported.")
  var iters: Int = 20

  @Option(help: "Untimed warm-up iterations.")
  var warmup: Int = 5

  @Option(help: "Problem file (safetensors); defaults to the bundled copy of the workload's file.")
  var weights: String?

  @Flag(
    help:
      "w3: one step size for the whole batch (torchdiffeq's behaviour) instead of per-sample steps."
  )
  var sharedStep = false

  @Option(
    help:
      "w1: how gradients flow through the solve: adjoint (backsolve, the workload's definition), backprop (through the solver's stages, kept from the forward pass), checkpointed."
  )
  var gradient: GradientMode = .adjoint

  @Option(
    help:
      "w1, w2: the adjoint's first backward step: select (Hairer's probe, as torchdiffeq and Diffrax; the default) or continue (the forward solve's last step proposal: fewer backward steps, less accurate at loose tolerances)."
  )
  var adjointFirstStep: AdjointFirstStep = .select

  @Option(help: "w1: write the parameters after the last iteration to this safetensors file.")
  var save: String?

  @OptionGroup(title: "memory") var memory: MemoryBenchOptions

  func validate() throws {
    // No workload has more chunks than this to share among threads.
    try OptionBounds.check("--threads", threads, in: 1...1024)
    guard iters >= 1 else { throw ValidationError("--iters must be at least 1, got \(iters)") }
    guard warmup >= 0 else { throw ValidationError("--warmup must be at least 0, got \(warmup)") }
    // Options that the chosen workload would silently ignore.
    if sharedStep && workload != .w3 {
      throw ValidationError("--shared-step is for w3 only, not \(workload.rawValue)")
    }
    if save != nil && workload != .w1 {
      throw ValidationError("--save is for w1 only, not \(workload.rawValue)")
    }
    if gradient != .adjoint && workload != .w1 {
      throw ValidationError("--gradient is for w1 only, not \(workload.rawValue)")
    }
    if adjointFirstStep != .select && workload != .w1 && workload != .w2 {
      throw ValidationError("--adjoint-first-step is for w1 and w2, not \(workload.rawValue)")
    }
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    switch workload {
    case .w1: try runW1()
    case .w2: try runW2()
    case .w3: try runW3()
    case .memory: try runMemory()
    case .conv: try runConvolution()
    }
  }

  private func runW3() throws {
    let url = try weightsURL(bundled: W3Workload.bundledProblemURL, name: "w3-problem.safetensors")
    guard !(sharedStep && threads > 1) else {
      throw ValidationError(
        "--shared-step couples the whole batch and runs on one thread; drop --threads")
    }
    let w3 = try W3Workload(
      problem: url, scope: sharedStep ? .sharedAcrossBatch : .perSample, threads: threads)
    var last: ODESolution<Float>?
    let timing = try TimingSummary.measure(iterations: iters, warmup: warmup) {
      last = try w3.solve()
    }
    let stats = last!.statistics
    let failed = stats.count - (stats.statusCounts[.success] ?? 0)
    print(
      "W3: \(stats.count) states, dopri5, rtol = atol = 1e-6, \(sharedStep ? "shared" : "per-sample") steps, \(threads) thread(s)"
    )
    print(
      "time per solve: median \(fmt(timing.medianMilliseconds)) ms, min \(fmt(timing.minMilliseconds)) ms, max \(fmt(timing.maxMilliseconds)) ms over \(iters) runs"
    )
    print(
      "NFE per sample: mean \(fmt(stats.meanFunctionEvaluations)), max \(stats.maxFunctionEvaluations); failed samples: \(failed)"
    )
    var line = JSONLine()
    line.add("workload", "w3")
    line.add("threads", threads)
    line.add("median_ms", timing.medianMilliseconds)
    line.add("min_ms", timing.minMilliseconds)
    line.add("max_ms", timing.maxMilliseconds)
    line.add("nfe_mean", stats.meanFunctionEvaluations, digits: 2)
    line.add("nfe_max", stats.maxFunctionEvaluations)
    line.add("peak_rss_mb", ProcessMemory.peakResidentMegabytes ?? .nan, digits: 1)
    print(line)
  }

  /// `--weights` if given, else the workload's bundled file `name`.
  func weightsURL(bundled: URL?, name: String) throws -> URL {
    guard let url = weights.map({ URL(fileURLWithPath: $0) }) ?? bundled else {
      throw ValidationError("the bundled \(name) is missing; pass --weights FILE")
    }
    return url
  }

  /// Refuses `--threads` for workloads that run on one thread.
  func requireOneThread(_ workload: String) throws {
    guard threads == 1 else {
      throw ValidationError(
        "bench \(workload) runs on one thread; drop --threads (only w1, w2 and w3 split their batch among threads)"
      )
    }
  }

  func fmt(_ value: Double) -> String { String(format: "%.2f", value) }
}

extension GradientMode: ExpressibleByArgument {}
extension AdjointFirstStep: ExpressibleByArgument {}
