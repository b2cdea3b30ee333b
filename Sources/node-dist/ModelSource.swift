import ArgumentParser
import Foundation
import NodeCore
import NodeTraining

/// Where `eval` and `sample` get a trained model: a checkpoint (its
/// state.json carries the run's config), or a config file and a weights file.
struct ModelSource: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "A checkpoint directory (step-…), or a run directory (its newest valid checkpoint).",
      valueName: "dir"))
  var checkpoint: String?

  @Option(help: "The experiment file the weights were trained with (with --weights).")
  var config: String?

  @Option(help: "A weights file (safetensors, the model's tensor names; with --config).")
  var weights: String?

  @Option(
    name: .customLong("set"), parsing: .singleValue,
    help: ArgumentHelp("Override a config key (e.g. data.test_size=1000).", valueName: "key=value"))
  var overrides: [String] = []

  @Option(help: "Relative tolerance of the solves (default: the config's evaluation tolerance).")
  var rtol: Double?

  @Option(help: "Absolute tolerance (default: --rtol when given, else the config's).")
  var atol: Double?

  func validate() throws {
    for (name, value) in [("--rtol", rtol), ("--atol", atol)] {
      // Solves run in 32-bit floats: below their smallest normal a tolerance is lost.
      if let value, !(value >= Double(Float.leastNormalMagnitude) && value < 1) {
        throw ValidationError("\(name) must be in [1.2e-38, 1), got \(value)")
      }
    }
  }

  /// Checks outputs (option, path) before any work: each must be writable
  /// (``OutputPaths/checkWritable(_:)``), and none may overwrite another, one
  /// of `inputs` (option, path), the config or weights file read, or anything
  /// inside the checkpoints read (the `--checkpoint` directory itself when it
  /// holds a manifest, else its `checkpoints/`): an output never destroys what
  /// the command reads or another output.
  func checkOutputs(_ outputs: [(String, String)], inputs: [(String, String)] = []) throws {
    try OutputPaths.checkWritable(outputs)
    func resolved(_ path: String) -> String {
      URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
    let read =
      inputs
      + [("--config", config), ("--weights", weights)].compactMap { name, path in
        path.map { (name, $0) }
      }
    // The checkpoints read: the directory itself, or a run directory's checkpoints/.
    let checkpoints = checkpoint.map { checkpoint in
      let given = URL(fileURLWithPath: checkpoint)
      let isCheckpoint = FileManager.default.fileExists(
        atPath: given.appendingPathComponent("manifest.json").path)
      return resolved(isCheckpoint ? checkpoint : given.appendingPathComponent("checkpoints").path)
    }
    for (k, (name, path)) in outputs.enumerated() {
      let target = resolved(path)
      for (other, otherPath) in outputs[..<k] where resolved(otherPath) == target {
        throw ValidationError("\(name) and \(other) are the same file, \(path)")
      }
      for (input, inputPath) in read where resolved(inputPath) == target {
        throw ValidationError("\(name) \(path) would overwrite \(input), which this command reads")
      }
      if let checkpoint, let directory = checkpoints {
        if target == directory || target.hasPrefix(directory + "/") {
          throw ValidationError(
            "\(name) \(path) lies inside the checkpoints of --checkpoint \(checkpoint), which "
              + "this command reads")
        }
      }
    }
  }

  /// A loaded model.
  struct Loaded {
    let experiment: ExperimentConfiguration
    let task: any TrainingTask
    /// The training step the weights come from (0 for a weights file).
    let step: Int
    /// The tolerance the solves use.
    let tolerance: Tolerance
    /// Where the weights came from.
    let description: String
  }

  /// Builds the model and loads its weights (every rank reads the files).
  func load() throws -> Loaded {
    switch (checkpoint, config, weights) {
    case (_?, nil, nil), (nil, _?, _?): break
    default:
      throw ValidationError("give --checkpoint DIR, or --config FILE with --weights FILE")
    }
    let experiment: ExperimentConfiguration
    let weightsFile: SafetensorsFile
    var step = 0
    var schedules: SolverTolerances
    let description: String
    // The weights come from the checkpoint or --weights: the initial weights
    // a training started from (model.weights) are not read, nor need exist.
    let overrides = overrides + ["model.weights=null"]
    if let checkpoint {
      let loaded = try Self.checkpoint(at: URL(fileURLWithPath: checkpoint))
      let state = try JSONDecoder().decode(TrainingState.self, from: loaded.state)
      experiment = try ExperimentConfiguration(
        yaml: state.config, overrides: overrides, source: loaded.url.path + "/state.json")
      weightsFile = loaded.weights
      step = state.step
      schedules = experiment.tolerances.resumed(from: state.tolerances)
      description = loaded.url.path
    } else {
      experiment = try ExperimentConfiguration(
        contentsOf: URL(fileURLWithPath: config!), overrides: overrides)
      weightsFile = try SafetensorsFile(contentsOf: URL(fileURLWithPath: weights!))
      schedules = experiment.tolerances
      description = weights!
    }
    let task = try experiment.makeTask()
    task.parameters = try task.parameters(from: weightsFile)
    let (epoch, _) = try experiment.makeSampler(for: task).position(ofStep: step)
    var tolerance = schedules.values(step: step, epoch: epoch).evaluation
    if let rtol { tolerance = Tolerance(relative: rtol, absolute: atol ?? rtol) }
    if let atol { tolerance.absolute = atol }
    try task.apply(SolveTolerances(forward: tolerance, adjoint: tolerance, evaluation: tolerance))
    return Loaded(
      experiment: experiment, task: task, step: step, tolerance: tolerance,
      description: description)
  }

  /// The checkpoint at `url`: the directory itself when it has a manifest,
  /// otherwise the newest valid one under `url/checkpoints` or `url`.
  static func checkpoint(at url: URL) throws -> LoadedCheckpoint {
    let manager = FileManager.default
    if manager.fileExists(atPath: url.appendingPathComponent("manifest.json").path) {
      return try CheckpointStore.load(url)
    }
    let nested = url.appendingPathComponent("checkpoints")
    let directory = manager.fileExists(atPath: nested.path) ? nested : url
    var isDirectory: ObjCBool = false
    guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
      throw ValidationError("--checkpoint \(url.path): no such directory")
    }
    guard isDirectory.boolValue else {
      throw ValidationError(
        "--checkpoint \(url.path): not a directory; give a checkpoint directory (with "
          + "manifest.json) or a run directory (with checkpoints/); weights alone go with "
          + "--config and --weights")
    }
    let (loaded, skipped) = try CheckpointStore(directory: directory, keep: 1_000_000).newestValid()
    for failure in skipped {
      FileHandle.standardError.write(
        Data("skipped \(failure.url.lastPathComponent): \(failure.reason)\n".utf8))
    }
    guard let loaded else {
      throw ValidationError(
        skipped.isEmpty
          ? "--checkpoint \(url.path): holds no checkpoint (a step-… directory with "
            + "manifest.json, here or in checkpoints/); train writes them every "
            + "run.checkpoint_every steps and at the end"
          : "--checkpoint \(url.path): none of its \(skipped.count) checkpoints verifies (see above)"
      )
    }
    return loaded
  }
}
