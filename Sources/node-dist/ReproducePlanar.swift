import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeTraining

/// `node-dist reproduce planar`: the paper's density matching with the gated
/// planar CNF (section 3.1, Figure 4).
struct ReproducePlanar: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "planar",
    abstract: "Fit a gated planar CNF to a target density by minimising KL(q‖p); draw the fit.",
    discussion: """
      The flow dz/dt = Σ_n σ_n(t) u_n tanh(w_nᵀz + b_n) with its analytic trace pushes standard \
      normal draws (batch --batch) from t = 0 to 1 (dopri5, rtol = atol = --tolerance, adjoint); \
      the loss is the mean of log q(z(1)) − log p̃(z(1)), i.e. KL(q‖p) − log Z for the target's \
      unknown normaliser Z; Adam takes the step. Targets: \(TargetDensity.allowedNames). \
      Writes loss.csv and planar-<target>.png (target | flow density | flow samples over \
      [-4, 4]²) to --output. One thread.
      """)

  @Option(help: "The target: \(TargetDensity.allowedNames).")
  var target = "u1"

  @Option(help: "Hidden units M of the planar flow.")
  var units = 32

  @Option(help: "Training iterations.")
  var iterations = 2000

  @Option(help: "Report the mean loss every this many iterations.")
  var every = 100

  @Option(help: "Base draws per iteration.")
  var batch = 256

  @Option(help: "Adam's learning rate.")
  var learningRate: Float = 1e-2

  @Option(help: "rtol = atol of every solve.")
  var tolerance: Float = 1e-5

  @Option(help: "Seed of the initialisation and the draws.")
  var seed: UInt64 = 0

  @Option(help: "Directory for loss.csv and the picture.")
  var output = "runs/planar"

  func validate() throws {
    if iterations < 1 { throw ValidationError("--iterations must be ≥ 1, got \(iterations)") }
    if every < 1 { throw ValidationError("--every must be ≥ 1, got \(every)") }
    try OutputPaths.checkDirectory("--output", output)
    // The config's ranges for model.units and train.batch_size.
    try OptionBounds.check("--units", units, in: ModelConfiguration.unitsRange)
    try OptionBounds.check("--batch", batch, in: TrainConfiguration.batchSizeRange)
    if !(tolerance > 0 && tolerance < 1) {
      throw ValidationError("--tolerance must be in (0, 1), got \(tolerance)")
    }
    if !(learningRate > 0) {
      throw ValidationError("--learning-rate must be > 0, got \(learningRate)")
    }
  }

  func run() throws {
    BLASRuntime.setThreadCount(1)
    let density = try TargetDensity(name: target)
    let matching = try PlanarDensityMatching<Float>(
      target: density, units: units, seed: seed, batchSize: batch, tolerance: tolerance,
      learningRate: learningRate)
    let directory = URL(fileURLWithPath: output)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    print("planar CNF (M = \(units)) on \(target): \(iterations) iterations of \(batch) draws")
    var csv = "iteration,mean_loss,nfe_forward,nfe_backward,seconds\n"
    var window = StepWindow()
    var first: Double?
    var last = 0.0
    let clock = ContinuousClock()
    let start = clock.now
    for iteration in 1...iterations {
      let step = try matching.step()
      window.add(loss: step.loss, forward: step.forward, backward: step.backward)
      guard iteration % every == 0 || iteration == iterations, let means = window.take() else {
        continue
      }
      let seconds = (clock.now - start).seconds
      first = first ?? means.loss
      last = means.loss
      print(
        "iteration \(iteration): mean loss \(String(format: "%.4f", means.loss)), NFE fwd "
          + "\(String(format: "%.1f", means.forward)) bwd \(String(format: "%.1f", means.backward)), "
          + "\(String(format: "%.1f", seconds)) s")
      fflush(nil)
      csv +=
        "\(iteration),\(String(format: "%.5f", means.loss)),\(String(format: "%.2f", means.forward)),"
        + "\(String(format: "%.2f", means.backward)),\(String(format: "%.2f", seconds))\n"
    }
    try csv.write(
      to: directory.appendingPathComponent("loss.csv"), atomically: true, encoding: .utf8)
    let figure = try PlanarPicture.make(matching, seed: seed)
    let picture = directory.appendingPathComponent("planar-\(target).png")
    try figure.image().write(to: picture)
    print(
      "wrote \(directory.path)/{loss.csv, \(picture.lastPathComponent) (target | flow | samples)}")
    var line = JSONLine()
    line.add("experiment", "planar")
    line.add("target", target)
    line.add("units", units)
    line.add("iterations", iterations)
    line.add("loss_first_window", first ?? .nan, digits: 4)
    line.add("loss", last, digits: 4)
    line.add("seconds", (clock.now - start).seconds, digits: 1)
    print(line)
  }
}
