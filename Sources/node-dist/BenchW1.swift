import ArgumentParser
import Foundation
import NodeBench
import NodeCore

extension BenchCommand {
  /// W1: the median time of one CNF training iteration (forward solve,
  /// adjoint backward, Adam step) with its forward and backward NFE.
  func runW1() throws {
    let url = try weightsURL(
      bundled: W1Workload.bundledInitialWeightsURL, name: "w1-init.safetensors")
    let w1 = try W1Workload(
      weights: url, mode: gradient, adjointFirstStep: adjointFirstStep, threads: threads)
    var last: W1Workload.Step?
    let timing = try TimingSummary.measure(iterations: iters, warmup: warmup) {
      last = try w1.step()
    }
    let step = last!
    print(
      "W1: CNF on moons, batch \(w1.batchSize), dopri5 rtol = atol = 1e-5, \(gradient.rawValue) gradients, Adam, \(w1.threads) thread(s)"
    )
    if let save {
      try SafetensorsWriter.write(
        w1.field.network.tensors(of: w1.field.parameters), to: URL(fileURLWithPath: save))
      print("parameters after \(warmup + iters) iterations written to \(save)")
    }
    reportIteration(
      workload: "w1", threads: w1.threads, timing: timing, forward: step.forward,
      backward: step.backward,
      loss: step.loss, gradient: gradient, adjointFirstStep: adjointFirstStep)
  }
}
