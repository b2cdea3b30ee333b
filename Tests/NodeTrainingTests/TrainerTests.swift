import Foundation
import NodeCore
import NodeData
import NodeDistributed
import NodeModels
import NodeNN
import Testing

@testable import NodeTraining

/// The trainer on the in-process mock communicator: rank-count independence,
/// resume, checkpoint recovery, skipped steps and failing ranks.
@Suite struct TrainerTests {
  /// A small moons CNF (width 8) trained with Adam on batches of 16 in 4 chunks.
  static func makeTrainer(
    communicator: any Communicator, steps: Int, runDirectory: URL? = nil,
    learningRate: Double = 1e-2, checkpointEvery: Int? = nil
  ) throws -> Trainer {
    let network: Sequential<Float> = W1Flow.network(width: 8)
    let field = CNFField(
      network: network, parameters: [Float](repeating: 0, count: network.parameterCount))
    let flow = try StackedCNF(
      blocks: [field], intervals: [0...0.5], relativeTolerance: 1e-4, absoluteTolerance: 1e-4)
    let task = DensityTask(
      flow: flow, density: .moons, trainingSetSize: 64, evaluationSetSize: 40, trainingSeed: 1,
      evaluationSeed: 2)
    let sampler = try DistributedSampler(
      datasetSize: 64, globalBatch: 16, chunkCount: 4, seed: 3)
    var settings = TrainerSettings(
      steps: steps, seed: 5, learningRate: LearningRateSchedule(base: learningRate))
    settings.checkpointEvery = checkpointEvery
    settings.checksumEvery = 2
    let tolerance = ToleranceSchedule.constant(Tolerance(relative: 1e-4, absolute: 1e-4))
    return try Trainer(
      task: task, communicator: communicator, sampler: sampler,
      optimizer: .adam(Adam(parameterCount: task.parameterCount, learningRate: 0)),
      tolerances: SolverTolerances(forward: tolerance, adjoint: tolerance, evaluation: tolerance),
      settings: settings, runDirectory: runDirectory)
  }

  /// Trains on `ranks` mock ranks; every rank's final parameters.
  static func train(ranks: Int, steps: Int) throws -> [[Float]] {
    try MockCommunicator.run(size: ranks, timeout: 60) { communicator in
      let trainer = try makeTrainer(communicator: communicator, steps: steps)
      try trainer.start(resume: false)
      _ = try trainer.run()
      return trainer.task.parameters
    }.map { try $0.get() }
  }

  static func temporaryDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "node-dist-trainer-\(UUID().uuidString)")
  }

  @Test func oneTwoAndFourRanksTrainToBitwiseEqualParameters() throws {
    let single = try Self.train(ranks: 1, steps: 6)[0]
    let initial = try MockCommunicator.run(size: 1) { communicator in
      let trainer = try Self.makeTrainer(communicator: communicator, steps: 0)
      try trainer.start(resume: false)
      return trainer.task.parameters
    }[0].get()
    #expect(single != initial, "training changed nothing")
    for ranks in [2, 4] {
      let parameters = try Self.train(ranks: ranks, steps: 6)
      for (rank, values) in parameters.enumerated() {
        #expect(values == single, "rank \(rank) of \(ranks) differs from the single-rank run")
      }
    }
  }

  @Test func evaluationCountsEverySampleOnceOnAnyRankCount() throws {
    func evaluate(ranks: Int) throws -> [EvaluationMetrics] {
      try MockCommunicator.run(size: ranks) { communicator in
        let trainer = try Self.makeTrainer(communicator: communicator, steps: 0)
        try trainer.start(resume: false)
        return try DistributedEvaluation.run(
          trainer.task, communicator: communicator, step: 0,
          tolerance: Tolerance(relative: 1e-4, absolute: 1e-4), limit: 37)
      }.map { try $0.get() }
    }
    let one = try evaluate(ranks: 1)[0]
    #expect(one.samples == 37 && one.nll != nil)
    for ranks in [2, 3] {
      for metrics in try evaluate(ranks: ranks) {
        #expect(metrics.samples == 37)
        #expect(metrics.nll == one.nll && metrics.nfeMean == one.nfeMean)
        #expect(metrics.nfeMax == one.nfeMax)
      }
    }
  }

  @Test func moreRanksThanChunksIsAClearError() throws {
    let results = MockCommunicator.run(size: 5) { communicator in
      _ = try Self.makeTrainer(communicator: communicator, steps: 1)
    }
    guard case .failure(let error) = results[0] else {
      Issue.record("5 ranks on 4 chunks were accepted")
      return
    }
    #expect("\(error)".contains("at most train.chunks = 4"))
  }

  @Test func resumedRunEqualsUninterruptedRun() throws {
    let uninterrupted = try Self.train(ranks: 1, steps: 8)[0]
    let directory = Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    // Stop after step 5 (the run's end writes a checkpoint there), then
    // resume on two ranks for the remaining steps.
    _ = try MockCommunicator.run(size: 1) { communicator in
      let trainer = try Self.makeTrainer(
        communicator: communicator, steps: 5, runDirectory: directory)
      try trainer.start(resume: false)
      _ = try trainer.run()
    }[0].get()
    let resumed = try MockCommunicator.run(size: 2) { communicator in
      let trainer = try Self.makeTrainer(
        communicator: communicator, steps: 8, runDirectory: directory)
      try trainer.start(resume: true)
      #expect(trainer.step == 5)
      _ = try trainer.run()
      return trainer.task.parameters
    }.map { try $0.get() }
    #expect(resumed[0] == uninterrupted, "the resumed run differs from the uninterrupted one")
    #expect(resumed[1] == uninterrupted, "rank 1 of the resumed run differs")
  }

  @Test func corruptNewestCheckpointFallsBackToThePreviousOne() throws {
    let directory = Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    _ = try MockCommunicator.run(size: 1) { communicator in
      let trainer = try Self.makeTrainer(
        communicator: communicator, steps: 4, runDirectory: directory, checkpointEvery: 2)
      try trainer.start(resume: false)
      _ = try trainer.run()
    }[0].get()
    let newest = directory.appendingPathComponent("checkpoints/step-00000004/weights.safetensors")
    let bytes = try Data(contentsOf: newest)
    try bytes.prefix(bytes.count / 2).write(to: newest)
    let outcome = try MockCommunicator.run(size: 1) { communicator in
      let trainer = try Self.makeTrainer(
        communicator: communicator, steps: 4, runDirectory: directory)
      var skipped: [String] = []
      trainer.observer = { event in
        if case .started(_, _, let failures, _) = event { skipped = failures }
      }
      try trainer.start(resume: true)
      return (trainer.step, skipped)
    }[0].get()
    #expect(outcome.0 == 2)
    #expect(outcome.1.count == 1 && outcome.1[0].contains("step-00000004"))
  }

  @Test func aFreshStartSetsAnEarlierRunsCheckpointsAside() throws {
    let directory = Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    for steps in [4, 2] {
      _ = try MockCommunicator.run(size: 1) { communicator in
        let trainer = try Self.makeTrainer(
          communicator: communicator, steps: steps, runDirectory: directory, checkpointEvery: 2)
        try trainer.start(resume: false)
        _ = try trainer.run()
      }[0].get()
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    let aside = try #require(names.first { $0.hasPrefix("checkpoints.before-") })
    #expect(
      try FileManager.default.contentsOfDirectory(
        atPath: directory.appendingPathComponent(aside).path
      ).contains("step-00000004"))
    let current = try CheckpointStore(
      directory: directory.appendingPathComponent("checkpoints"), keep: 3
    ).checkpoints().map(\.lastPathComponent)
    #expect(current == ["step-00000002"])
  }

  @Test func nonFiniteStepsAreSkippedTogetherThenStopTheRun() throws {
    // A learning rate of infinity makes the parameters non-finite after one
    // update; every later step's loss is then NaN on every rank.
    let results = MockCommunicator.run(size: 2, timeout: 60) { communicator in
      let trainer = try Self.makeTrainer(
        communicator: communicator, steps: 20, learningRate: .infinity)
      try trainer.start(resume: false)
      _ = try trainer.run()
    }
    for result in results {
      guard case .failure(let error) = result else {
        Issue.record("a run with non-finite parameters finished")
        continue
      }
      #expect(
        "\(error)".contains("skipped steps in a row") || "\(error)".contains("rank"),
        "unexpected error: \(error)")
    }
    guard case .failure(let first) = results[0] else { return }
    #expect("\(first)".contains("stopped after 5 skipped steps in a row"))
  }

  @Test func aRankThatStallsStopsEveryRankWithinTheTimeout() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let results = MockCommunicator.run(size: 2, timeout: 2) { communicator in
      let trainer = try Self.makeTrainer(communicator: communicator, steps: 50)
      try trainer.start(resume: false)
      if communicator.rank == 1 { Thread.sleep(forTimeInterval: 6) }
      _ = try trainer.run()
    }
    #expect(clock.now - start < .seconds(12))
    guard case .failure(let error) = results[0] else {
      Issue.record("rank 0 finished although rank 1 stalled")
      return
    }
    #expect("\(error)".contains("rank 1") || "\(error)".contains("timed out"), "\(error)")
  }

  @Test func aRankThatFailsStopsEveryRankWithinSeconds() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let results = MockCommunicator.run(size: 2, timeout: 10) { communicator in
      let trainer = try Self.makeTrainer(communicator: communicator, steps: 50)
      try trainer.start(resume: false)
      if communicator.rank == 1 { throw TrainingError.coordinatorFailed("injected fault") }
      _ = try trainer.run()
    }
    #expect(clock.now - start < .seconds(10))
    for result in results {
      guard case .failure = result else {
        Issue.record("a rank finished although its peer failed")
        continue
      }
    }
  }
}

/// The config → trainer path on the mock communicator, for the models the
/// CNF test above does not cover.
@Suite struct ConfiguredTrainerTests {
  static func parameters(yaml: String, ranks: Int, threads: Int = 1) throws -> [[Float]] {
    try MockCommunicator.run(size: ranks, timeout: 60) { communicator in
      let experiment = try ExperimentConfiguration(yaml: yaml)
      let trainer = try experiment.makeTrainer(
        communicator: communicator, runDirectory: nil, threads: threads)
      try trainer.start(resume: false)
      let metrics = try trainer.run()
      #expect(metrics.samples == 40)
      return trainer.task.parameters
    }.map { try $0.get() }
  }

  @Test func planarDensityMatchingIsRankIndependent() throws {
    let yaml = """
      model: {kind: planar, units: 4, gate_width: 2}
      data: {name: u2, train_size: 256, test_size: 40}
      train: {steps: 3, batch_size: 16, chunks: 4, seed: 2}
      optimizer: {kind: adamw, lr: 1.0e-2, weight_decay: 1.0e-4}
      lr_schedule: {kind: cosine, warmup_steps: 1}
      tolerance: {forward: {rtol: 1.0e-4}}
      """
    let one = try Self.parameters(yaml: yaml, ranks: 1)[0]
    for values in try Self.parameters(yaml: yaml, ranks: 4) { #expect(values == one) }
  }

  @Test func sgdWithNesterovAndClippingIsRankIndependent() throws {
    let yaml = """
      model: {kind: cnf, width: 4, trace: hutchinson-rademacher}
      data: {name: 8gaussians, train_size: 64, test_size: 40}
      train: {steps: 3, batch_size: 16, chunks: 4, remainder: pad, clip_norm: 0.5}
      optimizer: {kind: sgd, lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 1.0e-4}
      lr_schedule: {kind: step, every: 2, factor: 0.5}
      tolerance:
        forward: {kind: geometric, unit: step, length: 3, rtol: [1.0e-3, 1.0e-4]}
        adjoint: {kind: adaptive, rtol: 1.0e-3, target_nfe: 20}
      """
    let one = try Self.parameters(yaml: yaml, ranks: 1)[0]
    for values in try Self.parameters(yaml: yaml, ranks: 2) { #expect(values == one) }
    // Worker threads per rank, each on its own replica of the model.
    #expect(try Self.parameters(yaml: yaml, ranks: 1, threads: 3)[0] == one)
    for values in try Self.parameters(yaml: yaml, ranks: 2, threads: 2) { #expect(values == one) }
  }

  /// `model.gradient: backprop` trains a CNF through its kept stages: the
  /// same parameters on one and two ranks, close to the adjoint's after a few
  /// steps (the two gradients differ by the solves' tolerances), and an
  /// unknown mode is a config error naming the key and the allowed modes.
  @Test func backpropCNFTrainingIsRankIndependentAndNearTheAdjoint() throws {
    func yaml(_ gradient: String) -> String {
      """
      model: {kind: cnf, width: 8, gradient: \(gradient)}
      data: {name: moons, train_size: 64, test_size: 40}
      train: {steps: 3, batch_size: 32, chunks: 4}
      optimizer: {kind: adam, lr: 1.0e-3}
      tolerance: {forward: {rtol: 1.0e-5, atol: 1.0e-5}, adjoint: {rtol: 1.0e-5, atol: 1.0e-5}}
      """
    }
    let backprop = try Self.parameters(yaml: yaml("backprop"), ranks: 1)[0]
    for values in try Self.parameters(yaml: yaml("backprop"), ranks: 2) {
      #expect(values == backprop)
    }
    let adjoint = try Self.parameters(yaml: yaml("adjoint"), ranks: 1)[0]
    #expect(adjoint != backprop)
    let worst = zip(backprop, adjoint).map { abs($0 - $1) }.max() ?? .infinity
    // Three Adam steps of 1e-3 move each parameter by up to 3e-3 either way.
    #expect(worst < 1e-3, "largest difference \(worst)")
    let refused = #expect(throws: ConfigError.self) {
      try ExperimentConfiguration(yaml: yaml("sideways"))
    }
    #expect("\(refused!)".contains("model.gradient") && "\(refused!)".contains("backprop"))
  }

  /// `model.weights` starts a fresh run from a file (rank 0 reads it, every
  /// rank gets it); a missing file is a config error, a file of another
  /// model an error on every rank.
  @Test func initialWeightsComeFromTheFileOnEveryRank() throws {
    let directory = TrainerTests.temporaryDirectory()
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let yaml = "model: {kind: cnf, width: 4}\ntrain: {steps: 1, batch_size: 16, chunks: 4}"
    let experiment = try ExperimentConfiguration(yaml: yaml)
    let task = try experiment.makeTask()
    let chosen = (0..<task.parameterCount).map { Float($0 % 7) * 0.125 - 0.25 }
    let file = directory.appendingPathComponent("init.safetensors")
    try SafetensorsWriter.write(task.namedTensors(of: chosen), to: file)
    let configured = try ExperimentConfiguration(
      yaml: yaml, overrides: ["model.weights=\(file.path)"])
    let started = MockCommunicator.run(size: 2, timeout: 60) { communicator in
      let trainer = try configured.makeTrainer(communicator: communicator, runDirectory: nil)
      try trainer.start(resume: false)
      return trainer.task.parameters
    }
    for parameters in started { #expect(try parameters.get() == chosen) }

    let missing = #expect(throws: ConfigError.self) {
      try ExperimentConfiguration(yaml: yaml, overrides: ["model.weights=/nonexistent.safetensors"])
    }
    #expect("\(missing!)".contains("model.weights"))

    let other = try ExperimentConfiguration(
      yaml: "model: {kind: cnf, width: 8}\ntrain: {steps: 1, batch_size: 16, chunks: 4}",
      overrides: ["model.weights=\(file.path)"])
    let refused = MockCommunicator.run(size: 2, timeout: 60) { communicator in
      let trainer = try other.makeTrainer(communicator: communicator, runDirectory: nil)
      try trainer.start(resume: false)
    }
    for outcome in refused {
      #expect(throws: (any Error).self) { try outcome.get() }
    }
  }

  @Test func fewerThanOneThreadIsAClearError() throws {
    let experiment = try ExperimentConfiguration(yaml: "model: {kind: cnf, width: 4}")
    let error = #expect(throws: TrainingError.self) {
      try experiment.makeTrainer(communicator: LocalCommunicator(), runDirectory: nil, threads: 0)
    }
    #expect("\(error!)".contains("threads"))
  }
}
