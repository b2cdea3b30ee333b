import ArgumentParser
import NodeBench
import NodeCore

extension BenchCommand {
  /// The ODE-Net block's convolution next to BLAS's GEMM peak, one thread.
  func runConvolution() throws {
    try requireOneThread("conv")
    BLASRuntime.setThreadCount(1)
    let result = ConvolutionThroughput.measure(iterations: iters, warmup: warmup)
    print(
      "ODE block conv (concat-time 3x3, 65 -> 64 channels, 6x6, batch 128), 1 thread: "
        + "forward \(fmt(result.forwardSeconds * 1e3)) ms = \(fmt(result.forwardGFLOPS)) GFLOP/s, "
        + "backward \(fmt(result.backwardSeconds * 1e3)) ms = \(fmt(result.backwardGFLOPS)) GFLOP/s; "
        + "sgemm 512^3 \(fmt(result.gemmGFLOPS)) GFLOP/s")
    var line = JSONLine()
    line.add("workload", "conv")
    line.add("forward_ms", result.forwardSeconds * 1e3, digits: 2)
    line.add("backward_ms", result.backwardSeconds * 1e3, digits: 2)
    line.add("forward_gflops", result.forwardGFLOPS, digits: 1)
    line.add("backward_gflops", result.backwardGFLOPS, digits: 1)
    line.add("sgemm_gflops", result.gemmGFLOPS, digits: 1)
    line.add("forward_fraction", result.forwardGFLOPS / result.gemmGFLOPS, digits: 3)
    line.add("backward_fraction", result.backwardGFLOPS / result.gemmGFLOPS, digits: 3)
    print(line)
  }
}
