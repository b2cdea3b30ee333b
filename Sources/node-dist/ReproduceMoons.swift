import ArgumentParser
import Foundation
import NodeBench
import NodeCore

/// `node-dist reproduce moons`: W1's flow trained on moons, with its
/// held-out learning curve and a picture of data, samples and density.
struct ReproduceMoons: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "moons",
    abstract:
      "Train the W1 CNF on moons; print the held-out NLL curve; draw data, samples, density.",
    discussion: """
      Training: fresh batches of 512 moons points, dopri5 at rtol = atol = 1e-5 forward and \
      adjoint, exact trace, Adam lr 1e-3, from w1-init (bundled) or the flow's default \
      initialisation (--init-seed). Every --every iterations the mean negative log-likelihood of \
      --held-out fresh points (a seed never used in training) is printed and appended to \
      nll.csv in --output. At the end moons.png shows, left to right, a histogram of the data, \
      a histogram of samples drawn by integrating the flow backward from the standard normal, \
      and the flow's density, each over [-4, 4]². One thread.
      """)

  @Option(help: "Training iterations.")
  var iterations = 2000

  @Option(help: "Evaluate the held-out NLL every this many iterations.")
  var every = 100

  @Option(help: "Held-out points per evaluation.")
  var heldOut = 5000

  @Option(help: "Start from this W1 weight file (default: the bundled w1-init).")
  var weights: String?

  @Option(help: "Start from the flow's default initialisation drawn from this seed instead.")
  var initSeed: UInt64?

  @Option(help: "Directory for nll.csv, moons.png and the trained weights.")
  var output = "runs/moons"

  @Option(help: "Points per histogram in the picture.")
  var pictureSamples = 20_000

  func validate() throws {
    if iterations < 0 { throw ValidationError("--iterations must be ≥ 0, got \(iterations)") }
    if every < 1 { throw ValidationError("--every must be ≥ 1, got \(every)") }
    try OptionBounds.check("--held-out", heldOut, in: 1...10_000_000)
    try OptionBounds.check("--picture-samples", pictureSamples, in: 1...10_000_000)
    if weights != nil && initSeed != nil {
      throw ValidationError("give --weights or --init-seed, not both")
    }
    try OutputPaths.checkDirectory("--output", output)
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    let start: URL?
    if initSeed != nil {
      start = nil
    } else if let weights {
      start = URL(fileURLWithPath: weights)
    } else {
      guard let bundled = W1Workload.bundledInitialWeightsURL else {
        throw ValidationError("the bundled w1-init.safetensors is missing; pass --weights")
      }
      start = bundled
    }
    let directory = URL(fileURLWithPath: output)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let experiment = try MoonsExperiment(
      weights: start, initializationSeed: initSeed ?? 0, heldOutSamples: heldOut)
    print(
      "W1 CNF on moons from \(start?.lastPathComponent ?? "initialisation seed \(initSeed!)"): "
        + "\(iterations) iterations, held-out NLL on \(heldOut) points every \(every)")
    var csv = "iteration,heldout_nll,heldout_nfe_mean,train_loss,nfe_forward,nfe_backward,seconds\n"
    let curve = try experiment.train(iterations: iterations, evaluateEvery: every) { point in
      let f = { (value: Double?) in value.map { String(format: "%.2f", $0) } ?? "" }
      print(
        "iteration \(point.iteration): held-out NLL \(String(format: "%.4f", point.heldOut.nll))"
          + (point.trainingLoss.map { ", training loss \(String(format: "%.4f", $0))" } ?? "")
          + (point.forwardEvaluations.map {
            ", NFE fwd \(String(format: "%.1f", $0)) bwd \(f(point.backwardEvaluations))"
          } ?? "") + ", \(String(format: "%.0f", point.trainingSeconds)) s")
      fflush(nil)
      csv +=
        "\(point.iteration),\(String(format: "%.5f", point.heldOut.nll)),"
        + "\(f(point.heldOut.meanEvaluations)),"
        + (point.trainingLoss.map { String(format: "%.5f", $0) } ?? "")
        + ",\(f(point.forwardEvaluations)),\(f(point.backwardEvaluations)),"
        + String(format: "%.1f", point.trainingSeconds) + "\n"
    }
    try csv.write(
      to: directory.appendingPathComponent("nll.csv"), atomically: true, encoding: .utf8)
    try SafetensorsWriter.write(
      experiment.workload.field.network.tensors(of: experiment.workload.field.parameters),
      to: directory.appendingPathComponent("w1-moons.safetensors"))
    let figure = try experiment.figure(samples: pictureSamples)
    let picture = directory.appendingPathComponent("moons.png")
    try figure.image().write(to: picture)
    print(
      "wrote \(directory.path)/{nll.csv, w1-moons.safetensors, moons.png (data | samples | density)}"
    )
    let last = curve.last!
    var line = JSONLine()
    line.add("experiment", "moons")
    line.add("iterations", last.iteration)
    line.add("nll_start", curve.first!.heldOut.nll, digits: 4)
    line.add("nll", last.heldOut.nll, digits: 4)
    line.add("heldout_samples", heldOut)
    line.add("nfe_forward", last.forwardEvaluations ?? .nan, digits: 2)
    line.add("nfe_backward", last.backwardEvaluations ?? .nan, digits: 2)
    line.add("training_seconds", last.trainingSeconds, digits: 1)
    print(line)
  }
}
