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
    reportIteration(
      workload: "w2", timing: timing, forward: step.forward, backward: step.backward,
      loss: step.loss)
  }
}
