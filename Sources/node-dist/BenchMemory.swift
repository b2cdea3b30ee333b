import ArgumentParser
import Foundation
import NodeBench
import NodeSensitivity

/// The options of `node-dist bench memory`.
struct MemoryBenchOptions: ParsableArguments {
  @Option(help: "Gradient modes to measure, comma-separated (adjoint, backprop, checkpointed).")
  var modes: String = GradientMode.allCases.map(\.rawValue).joined(separator: ",")

  @Option(help: "Tolerances (rtol = atol, forward and backward), comma-separated.")
  var tolerances: String = "1e-3,1e-4,1e-5,1e-6,1e-7"

  @Option(help: "How many of the W3 problem's 4096 initial states to use.")
  var samples: Int = 4096

  @Option(help: "The final time t₁ (the solve runs from 0): longer solves take more steps.")
  var endTime: Float = 1

  @Option(help: .hidden)
  var single: String?

  /// The modes, or a message naming the bad one and the allowed ones.
  func parsedModes() throws -> [GradientMode] {
    try modes.split(separator: ",").map { name in
      guard let mode = GradientMode(rawValue: String(name)) else {
        throw ValidationError(
          "unknown gradient mode '\(name)'; allowed: "
            + GradientMode.allCases.map(\.rawValue).joined(separator: ", "))
      }
      return mode
    }
  }

  /// The tolerances, or a message naming the bad one.
  func parsedTolerances() throws -> [Float] {
    try tolerances.split(separator: ",").map { text in
      guard let value = Float(text), value.isFinite, value > 0, value < 1 else {
        throw ValidationError("tolerance '\(text)' is not a number in (0, 1)")
      }
      return value
    }
  }
}

extension BenchCommand {
  /// Measures every (mode, tolerance) pair in a fresh process of this
  /// program, so each peak resident size is that computation's alone, and
  /// relays their JSON lines.
  func runMemory() throws {
    try requireOneThread("memory")
    let url = try weightsURL(bundled: W3Workload.bundledProblemURL, name: "w3-problem.safetensors")
    guard memory.endTime.isFinite && memory.endTime > 0 else {
      throw ValidationError("--end-time must be a finite time > 0, got \(memory.endTime)")
    }
    guard memory.samples >= 1 else {
      throw ValidationError("--samples must be at least 1, got \(memory.samples)")
    }
    if let single = memory.single {
      try measureOne(single, problem: url)
      return
    }
    let modes = try memory.parsedModes()
    let tolerances = try memory.parsedTolerances()
    print(
      "gradient memory: W3 problem, \(memory.samples) samples, t from 0 to \(memory.endTime), "
        + "loss ½‖z(t₁)‖², dopri5, each line a fresh process"
    )
    for mode in modes {
      for tolerance in tolerances {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = [
          "bench", "memory", "--single", "\(mode.rawValue):\(tolerance)",
          "--samples", "\(memory.samples)", "--end-time", "\(memory.endTime)", "--weights",
          url.path,
        ]
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        guard child.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last
        else {
          throw ValidationError(
            "the measurement of \(mode.rawValue) at tolerance \(tolerance) failed "
              + "(exit status \(child.terminationStatus))")
        }
        print(line)
      }
    }
  }

  /// One measurement, `mode:tolerance`, in this process.
  private func measureOne(_ single: String, problem url: URL) throws {
    let parts = single.split(separator: ":")
    guard parts.count == 2, let mode = GradientMode(rawValue: String(parts[0])),
      let tolerance = Float(parts[1])
    else {
      throw ValidationError("--single expects MODE:TOLERANCE, got '\(single)'")
    }
    let workload = try GradientMemoryWorkload(problem: url, samples: memory.samples)
    let before = ProcessMemory.residentMegabytes ?? .nan
    let result = try workload.measure(mode: mode, tolerance: tolerance, endTime: memory.endTime)
    var line = JSONLine()
    line.add("mode", mode.rawValue)
    line.add("tol", Double(tolerance), digits: 8)
    let peak = ProcessMemory.peakResidentMegabytes ?? .nan
    line.add("peak_mb", peak, digits: 1)
    line.add("above_start_mb", peak - before, digits: 2)
    line.add("nfe_forward_mean", result.forwardEvaluations, digits: 2)
    line.add("nfe_backward_mean", result.backwardEvaluations, digits: 2)
    line.add("ms", result.milliseconds, digits: 1)
    line.add("trajectory_mb", Double(result.storedTrajectoryScalars * 4) / 1_048_576, digits: 2)
    line.add("samples", memory.samples)
    line.add("end_time", Double(memory.endTime), digits: 2)
    line.add("all_succeeded", result.allSucceeded ? 1 : 0)
    print(line)
  }
}
