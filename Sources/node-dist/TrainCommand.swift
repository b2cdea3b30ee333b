import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeDistributed
import NodeTraining

/// `node-dist train --config FILE`: data-parallel training from an
/// experiment file, on every rank of `mpirun` or alone.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a model from an experiment file (configs/*.yaml), alone or under mpirun.",
    discussion: """
      Alone: `node-dist train --config configs/cnf-moons.yaml`. On 8 ranks: \
      `launch/mpirun.sh -n 8 node-dist train --config configs/cnf-moons.yaml` (or mpirun \
      directly). The global batch (train.batch_size) is cut into train.chunks chunks shared out \
      over the ranks; the gradients are summed in chunk order, so 1, 2, 4 or 8 ranks train \
      bitwise the same parameters. Rank 0 prints progress and writes, in the run directory \
      (--run-dir, else run.directory, else runs/<config name>): config.yaml (the resolved \
      config), metrics.jsonl (one JSON line per logged step and per evaluation), checkpoints/ \
      (the last run.keep_checkpoints, each weights.safetensors + state.json), and for CNFs \
      density.png (data | samples | density). The last line printed is a JSON summary. \
      --set key.path=value overrides any config key (e.g. --set optimizer.lr=3e-4 --set \
      tolerance.evaluation.rtol=1e-3). --resume continues from the newest checkpoint that \
      verifies (any rank count; a corrupt one is reported and skipped).
      """)

  @Option(name: .long, help: "The experiment file (YAML), e.g. configs/cnf-moons.yaml.")
  var config: String

  @Option(
    name: .customLong("set"), parsing: .singleValue,
    help: ArgumentHelp("Override a config key.", valueName: "key.path=value"))
  var overrides: [String] = []

  @Flag(help: "Continue from the newest valid checkpoint in the run directory.")
  var resume = false

  @Option(help: "The run directory (default: run.directory, else runs/<config name>).")
  var runDir: String?

  @Option(
    help: """
      Worker threads per rank: each computes whole chunks of the batch on its own copy \
      of the model; the results are the same for any count (at most the rank's chunks are used).
      """)
  var threads = 1

  @Option(help: "BLAS threads per worker thread.")
  var blasThreads = 1

  func validate() throws {
    try OptionBounds.check("--threads", threads, in: 1...1024)
    if let runDir { try OutputPaths.checkDirectory("--run-dir", runDir) }
    if blasThreads < 1 { throw ValidationError("--blas-threads must be ≥ 1, got \(blasThreads)") }
  }

  func run() throws {
    CommandFailure.onEveryRank(train(on:))
  }

  private func train(on communicator: any Communicator) throws {
    BLASRuntime.setThreadCount(blasThreads)
    let experiment = try ExperimentConfiguration(
      contentsOf: URL(fileURLWithPath: config), overrides: overrides)
    let name = URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
    let directory = URL(fileURLWithPath: runDir ?? experiment.run.directory ?? "runs/\(name)")
    let trainer = try experiment.makeTrainer(
      communicator: communicator, runDirectory: directory, threads: threads)
    let rank0 = communicator.isCoordinator
    // Held until the run ends: a second training into this directory is refused.
    let lock = rank0 ? try RunDirectoryLock(directory: directory) : nil
    defer { withExtendedLifetime(lock) {} }
    let progress = TrainingProgress(
      totalSteps: trainer.settings.steps, logEvery: experiment.run.logEvery)
    if rank0 {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      trainer.observer = progress.handle
      progress.line(
        "\(experiment.model.kind.rawValue) (\(trainer.task.parameterCount) parameters) on "
          + "\(trainer.task.trainingSetSize) samples: \(trainer.settings.steps) steps of "
          + "\(trainer.sampler.globalBatch) in \(trainer.sampler.chunkCount) chunks over "
          + "\(communicator.size) rank(s) × \(threads) thread(s); run directory \(directory.path)"
          + (experiment.model.weights.map { "; initial weights \($0)" } ?? ""))
    }
    let clock = ContinuousClock()
    let start = clock.now
    try trainer.start(resume: resume)
    if resume && trainer.step == 0 && rank0 {
      progress.line("--resume: no checkpoint in \(directory.path) verifies; starting afresh")
    }
    // Every rank has the checkpoint's step: all stop here together, writing nothing.
    if trainer.step >= trainer.settings.steps {
      if rank0 {
        progress.line(
          "nothing to train: the checkpoint is at step \(trainer.step) and this run ends at "
            + "step \(trainer.settings.steps) (train.steps, or train.epochs); raise it to train "
            + "on, or evaluate the checkpoint with 'node-dist eval --checkpoint \(directory.path)'")
      }
      return
    }
    if rank0 {
      try experiment.resolvedYAML.write(
        to: directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }
    let final = try trainer.run()
    let seconds = (clock.now - start).seconds
    guard rank0 else { return }
    if let density = trainer.task as? DensityTask, experiment.run.picture {
      let picture = directory.appendingPathComponent("density.png")
      try DensityPicture.make(
        density, seed: experiment.train.seed, samples: experiment.run.pictureSamples
      ).image().write(to: picture)
      progress.line("wrote \(picture.path) (data | samples | density)")
    }
    if let planar = trainer.task as? DensityMatchingTask, experiment.run.picture {
      let picture = directory.appendingPathComponent("density.png")
      try PlanarPicture.make(
        planar.matching, seed: experiment.train.seed, samples: experiment.run.pictureSamples
      ).image().write(to: picture)
      progress.line("wrote \(picture.path) (target | flow | samples)")
    }
    var line = JSONLine()
    line.add("experiment", name)
    line.add("model", experiment.model.kind.rawValue)
    line.add("ranks", communicator.size)
    line.add("steps", trainer.step)
    line.add("skipped_steps", trainer.skippedSteps)
    line.add(evaluation: final, metricDigits: 4)
    line.add("parameters_hash", ParameterChecksum.hex(trainer.task.parameters))
    line.add("seconds", seconds, digits: 1)
    progress.line("\(line)")
  }
}
