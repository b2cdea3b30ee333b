import ArgumentParser
import Foundation
import NodeBench
import NodeCore

extension BenchCommand {
  /// W2: the median time of one ODE-Net training iteration (downsampling,
  /// ODE block with adjoint gradients, head, SGD step) with the block's NFE.
  func runW2() throws {
    let url = try weightsURL(
      bundled: W2Workload.bundledInitialWeightsURL, name: "w2-init.safetensors")
    let w2 = try W2Workload(weights: url, adjointFirstStep: adjointFirstStep, threads: threads)
    var last: W2Workload.Step?
    let timing = try TimingSummary.measure(iterations: iters, warmup: warmup) {
      last = try w2.step()
    }
    let step = last!
    print(
      "W2: ODE-Net on Fashion-MNIST, batch \(w2.batchSize), dopri5 rtol = atol = 1e-3, adjoint, SGD, \(w2.threads) thread(s)"
    )
    reportIteration(
      workload: "w2", threads: w2.threads, timing: timing, forward: step.forward,
      backward: step.backward,
      loss: step.loss, adjointFirstStep: adjointFirstStep)
  }
}
