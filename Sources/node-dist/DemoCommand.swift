import ArgumentParser
import Foundation
import NodeBench
import NodeSolvers

/// `node-dist demo`: the solver core at work on a problem with a known solution.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Solve a batch with a known solution: error and work against tolerance.",
    discussion: """
      Integrates a batch of damped rotations whose frequencies span two decades, \
      for several methods and tolerances, and prints the largest error against the \
      exact solution and the vector-field evaluations (NFE) per sample, with \
      per-sample step sizes and with one shared step size for the whole batch.
      """)

  @Option(help: "Samples in the batch.")
  var samples: Int = 1024

  @Option(help: "Integrate over [0, span].")
  var span: Double = 4

  @Option(help: "Methods to compare (comma-separated): heun-euler, bosh3, dopri5, tsit5, dop853.")
  var methods: String = "bosh3,dopri5,tsit5"

  @Option(help: "Tolerances rtol = atol to compare (comma-separated).")
  var tolerances: String = "1e-3,1e-5,1e-7"

  func validate() throws {
    try OptionBounds.check("--samples", samples, in: 1...1_000_000)
    guard span > 0 && span.isFinite else {
      throw ValidationError("--span must be positive, got \(span)")
    }
    _ = try parsedMethods()
    _ = try parsedTolerances()
  }

  func run() throws {
    let demo = SolverDemo(samples: samples, span: span)
    print(
      "\(samples) damped rotations, frequencies 0.5 to 50, t in [0, \(span)], 11 output times (Double)"
    )
    print("NFE = vector-field evaluations per sample; shared = one step size for the whole batch\n")
    let header = [
      "method", "rtol=atol", "max error", "NFE mean", "NFE max", "shared NFE", "saved", "ms",
    ]
    let widths = [10, 10, 11, 9, 8, 11, 7, 8]
    print(zip(header, widths).map { pad($0, $1) }.joined(separator: " "))
    for method in try parsedMethods() {
      for tolerance in try parsedTolerances() {
        let row = try demo.run(method: method, tolerance: tolerance)
        let saved = 1 - row.meanEvaluations / row.sharedEvaluations
        let cells = [
          row.method, String(format: "%.0e", row.tolerance), String(format: "%.2e", row.maxError),
          String(format: "%.1f", row.meanEvaluations), "\(row.maxEvaluations)",
          String(format: "%.1f", row.sharedEvaluations), String(format: "%.0f%%", saved * 100),
          String(format: "%.1f", row.milliseconds),
        ]
        print(zip(cells, widths).map { pad($0, $1) }.joined(separator: " "))
      }
    }
  }

  private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
  }

  private func parsedMethods() throws -> [ButcherTableau] {
    try methods.split(separator: ",").map { name in
      guard let method = ButcherTableau.named(String(name)), method.isAdaptive else {
        let allowed = ButcherTableau.all.filter(\.isAdaptive).map(\.name).joined(separator: ", ")
        throw ValidationError("unknown adaptive method '\(name)'; allowed: \(allowed)")
      }
      return method
    }
  }

  private func parsedTolerances() throws -> [Double] {
    try tolerances.split(separator: ",").map { text in
      guard let value = Double(text), value > 0, value < 1 else {
        throw ValidationError("tolerance '\(text)' must be a number in (0, 1)")
      }
      return value
    }
  }
}
