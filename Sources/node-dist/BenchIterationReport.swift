import Foundation
import NodeBench
import NodeSensitivity
import NodeSolvers

extension BenchCommand {
  /// Prints a training-iteration benchmark's figures and its JSON line (the
  /// keys of `bench w3` plus the backward NFE and the last loss).
  func reportIteration(
    workload: String, threads: Int, timing: TimingSummary, forward: SolveStatistics<Float>,
    backward: SolveStatistics<Float>, loss: Double, gradient: GradientMode = .adjoint,
    adjointFirstStep: AdjointFirstStep
  ) {
    print(
      "time per iteration: median \(fmt(timing.medianMilliseconds)) ms, min \(fmt(timing.minMilliseconds)) ms over \(iters) iterations"
    )
    print(
      "NFE per sample: forward mean \(fmt(forward.meanFunctionEvaluations)) max \(forward.maxFunctionEvaluations), backward mean \(fmt(backward.meanFunctionEvaluations)) max \(backward.maxFunctionEvaluations); last loss \(fmt(loss))"
    )
    var line = JSONLine()
    line.add("workload", workload)
    line.add("threads", threads)
    line.add("gradient", gradient.rawValue)
    if gradient == .adjoint { line.add("adjoint_first_step", adjointFirstStep.rawValue) }
    line.add("median_ms", timing.medianMilliseconds)
    line.add("min_ms", timing.minMilliseconds)
    line.add("max_ms", timing.maxMilliseconds)
    line.add("nfe_mean", forward.meanFunctionEvaluations, digits: 2)
    line.add("nfe_max", forward.maxFunctionEvaluations)
    line.add("nfe_backward_mean", backward.meanFunctionEvaluations, digits: 2)
    line.add("nfe_backward_max", backward.maxFunctionEvaluations)
    line.add("loss", loss, digits: 4)
    line.add("peak_rss_mb", ProcessMemory.peakResidentMegabytes ?? .nan, digits: 1)
    print(line)
  }
}
