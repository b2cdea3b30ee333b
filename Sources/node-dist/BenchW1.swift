import ArgumentParser
import Foundation
import NodeBench
import NodeCore

extension BenchCommand {
  /// W1: the median time of one CNF training iteration (forward solve,
  /// adjoint backward, Adam step) with its forward and backward NFE.
  func runW1() throws {
    guard let url = weights.map({ URL(fileURLWithPath: $0) }) ?? W1Workload.bundledInitialWeightsURL
    else {
      throw ValidationError("the bundled w1-init.safetensors is missing; pass --weights FILE")
    }
    guard threads == 1 else {
      throw ValidationError("bench w1 runs on one thread for now; drop --threads")
    }
    let w1 = try W1Workload(weights: url)
    var last: W1Workload.Step?
    let timing = try TimingSummary.measure(iterations: iters, warmup: warmup) {
      last = try w1.step()
    }
    let step = last!
    print(
      "W1: CNF on moons, batch \(w1.batchSize), dopri5 rtol = atol = 1e-5 forward and adjoint, Adam, 1 thread"
    )
    print(
      "time per iteration: median \(fmt(timing.medianMilliseconds)) ms, min \(fmt(timing.minMilliseconds)) ms over \(iters) iterations"
    )
    print(
      "NFE per sample: forward mean \(fmt(step.forward.meanFunctionEvaluations)) max \(step.forward.maxFunctionEvaluations), backward mean \(fmt(step.backward.meanFunctionEvaluations)) max \(step.backward.maxFunctionEvaluations); last loss \(fmt(step.loss)) nats"
    )
    if let save {
      try SafetensorsWriter.write(
        w1.field.network.tensors(of: w1.field.parameters), to: URL(fileURLWithPath: save))
      print("parameters after \(warmup + iters) iterations written to \(save)")
    }
    var line = JSONLine()
    line.add("workload", "w1")
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
