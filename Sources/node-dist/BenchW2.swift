import ArgumentParser
import Foundation
import NodeBench
import NodeCore

extension BenchCommand {
  /// W2: the median time of one ODE-Net training iteration (downsampling,
  /// ODE block with adjoint gradients, head, SGD step) with the block's NFE.
  func runW2() throws {
    guard let url = weights.map({ URL(fileURLWithPath: $0) }) ?? W2Workload.bundledInitialWeightsURL
    else {
      throw ValidationError("the bundled w2-init.safetensors is missing; pass --weights FILE")
    }
    guard threads == 1 else {
      throw ValidationError("bench w2 runs on one thread for now; drop --threads")
    }
    let w2 = try W2Workload(weights: url)
    var last: W2Workload.Step?
    let timing = try TimingSummary.measure(iterations: iters, warmup: warmup) {
      last = try w2.step()
    }
    let step = last!
    print(
      "W2: ODE-Net on Fashion-MNIST, batch \(w2.batchSize), dopri5 rtol = atol = 1e-3, adjoint, SGD, 1 thread"
    )
    print(
      "time per iteration: median \(fmt(timing.medianMilliseconds)) ms, min \(fmt(timing.minMilliseconds)) ms over \(iters) iterations"
    )
    print(
      "ODE block NFE per sample: forward mean \(fmt(step.forward.meanFunctionEvaluations)) max \(step.forward.maxFunctionEvaluations), backward mean \(fmt(step.backward.meanFunctionEvaluations)) max \(step.backward.maxFunctionEvaluations); last loss \(fmt(step.loss))"
    )
    var line = JSONLine()
    line.add("workload", "w2")
    line.add("threads", 1)
    line.add("median_ms", timing.medianMilliseconds)
    line.add("min_ms", timing.minMilliseconds)
    line.add("max_ms", timing.maxMilliseconds)
    line.add("nfe_mean", step.forward.meanFunctionEvaluations, digits: 2)
    line.add("nfe_max", step.forward.maxFunctionEvaluations)
    line.add("nfe_backward_mean", step.backward.meanFunctionEvaluations, digits: 2)
    line.add("nfe_backward_max", step.backward.maxFunctionEvaluations)
    line.add("loss", step.loss, digits: 4)
    line.add("peak_rss_mb", ProcessMemory.peakResidentMegabytes ?? .nan, digits: 1)
    print(line)
  }
}
