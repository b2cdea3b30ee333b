import Foundation
import NodeData
import NodeDistributed
import NodeModels
import NodeNN

extension ExperimentConfiguration {
  /// The model and its data, parameters not yet set. With `other` (a task
  /// this configuration made), the new task has its own model but shares
  /// `other`'s loaded data: a replica for another worker thread.
  ///
  /// - Throws: ``NodeData/DataError`` for missing image files, model errors
  ///   for settings the solvers refuse.
  public func makeTask(sharingDataWith other: (any TrainingTask)? = nil) throws
    -> any TrainingTask
  {
    switch model.kind {
    case .cnf:
      let trace: CNFTraceEstimator
      switch model.trace {
      case .exact: trace = .exact
      case .hutchinsonGaussian: trace = .hutchinson(noise: .gaussian)
      case .hutchinsonRademacher: trace = .hutchinson(noise: .rademacher)
      }
      var regularisers: RNODERegularisers = []
      if model.kineticEnergy > 0 { regularisers.insert(.kineticEnergy) }
      if model.jacobianFrobenius > 0 { regularisers.insert(.jacobianFrobenius) }
      let blocks = (0..<model.blocks).map { _ in
        let network: Sequential<Float> = W1Flow.network(width: model.width)
        return CNFField(
          network: network, parameters: [Float](repeating: 0, count: network.parameterCount),
          trace: trace, regularisers: regularisers)
      }
      let end = Float(model.endTime)
      let tolerance = tolerances.values(step: 0, epoch: 0).forward
      let flow = try StackedCNF(
        blocks: blocks, intervals: Array(repeating: 0...end, count: model.blocks),
        relativeTolerance: Float(tolerance.relative), absoluteTolerance: Float(tolerance.absolute),
        maxSteps: model.maxSteps, gradient: model.gradient,
        adjointFirstStep: model.adjointFirstStep)
      return DensityTask(
        flow: flow, density: data.density ?? .moons, trainingSetSize: data.trainSize ?? 100_000,
        evaluationSetSize: data.testSize ?? 5000, trainingSeed: data.seed,
        evaluationSeed: data.seed + 1,
        regularisers: RNODEWeights(
          kineticEnergy: Float(model.kineticEnergy),
          jacobianFrobenius: Float(model.jacobianFrobenius)))
    case .planar:
      let tolerance = tolerances.values(step: 0, epoch: 0).forward
      let matching = try PlanarDensityMatching<Float>(
        target: data.target ?? .u1, units: model.units, gateWidth: model.gateWidth,
        seed: train.seed, batchSize: train.batchSize, tolerance: Float(tolerance.relative),
        endTime: Float(model.endTime))
      return DensityMatchingTask(
        matching: matching, trainingSetSize: data.trainSize ?? 1_000_000,
        evaluationSetSize: data.testSize ?? 5000)
    case .odenet, .rknet, .resnet:
      let load: (ImageDataset.Split) throws -> ImageDataset = { split in
        data.images == .mnist
          ? try ImageDataset.mnist(split: split, directory: data.directory)
          : try ImageDataset.fashionMNIST(split: split, directory: data.directory)
      }
      let classifier: any ImageClassifier<Float>
      switch model.kind {
      case .resnet: classifier = ResNetClassifier(width: model.width, blocks: model.blocks)
      case .rknet: classifier = try ODENetClassifier(width: model.width, mode: .backprop)
      default:
        classifier = try ODENetClassifier(
          width: model.width, mode: .adjoint, adjointFirstStep: model.adjointFirstStep)
      }
      let loaded = other as? ClassifierTask
      return ClassifierTask(
        model: classifier, training: try loaded?.training ?? load(.train),
        evaluation: try loaded?.evaluation ?? load(.test),
        trainingLimit: data.trainSize, evaluationLimit: data.testSize)
    }
  }

  /// The sampler of `task`'s training set.
  public func makeSampler(for task: any TrainingTask) throws -> DistributedSampler {
    try DistributedSampler(
      datasetSize: task.trainingSetSize, globalBatch: train.batchSize, chunkCount: train.chunks,
      seed: train.seed, remainder: train.remainder == .drop ? .drop : .pad)
  }

  /// The trainer's settings for a run over `sampler`.
  public func makeSettings(sampler: DistributedSampler) -> TrainerSettings {
    let steps: Int
    switch train.length {
    case .steps(let count): steps = count
    case .epochs(let count): steps = count * sampler.stepsPerEpoch
    }
    var settings = TrainerSettings(
      steps: steps, seed: train.seed, learningRate: optimizer.makeSchedule(totalSteps: steps))
    settings.clipNorm = train.clipNorm
    settings.maxConsecutiveSkips = train.maxConsecutiveSkips
    settings.logEvery = run.logEvery
    settings.evaluateEvery = run.evaluateEvery
    settings.evaluationLimit = run.evaluationSamples
    settings.checkpointEvery = run.checkpointEvery
    settings.keepCheckpoints = run.keepCheckpoints
    settings.checksumEvery = run.checksumEvery
    settings.initialWeights = model.weights.map { URL(fileURLWithPath: $0) }
    return settings
  }

  /// Refuses to continue a checkpoint whose config (`storedYAML`) describes
  /// another model, other data, or another batch layout or seed; the
  /// optimizer's settings, schedules, tolerances, length and cadence may change.
  ///
  /// - Throws: ``TrainingError/incompatibleCheckpoint(_:)`` naming the sections that differ.
  public func checkResumable(from storedYAML: String) throws {
    let stored = try ExperimentConfiguration(yaml: storedYAML, source: "the checkpoint's config")
    var differences: [String] = []
    if stored.model != model { differences.append("model") }
    if stored.data != data { differences.append("data") }
    let layout = { (t: TrainConfiguration) in [t.batchSize, t.chunks, Int(t.seed)] }
    if layout(stored.train) != layout(train) || stored.train.remainder != train.remainder {
      differences.append("train.batch_size/chunks/seed/remainder")
    }
    guard differences.isEmpty else {
      throw TrainingError.incompatibleCheckpoint(
        "the checkpoint was trained with other \(differences.joined(separator: ", ")) settings;"
          + " use the same config (only optimizer, lr_schedule, tolerance, run and the length"
          + " may change) or another --run-dir")
    }
  }

  /// A trainer for this experiment on `communicator`, writing to
  /// `runDirectory`, computing each rank's chunks on `threads` threads (the
  /// results do not depend on it).
  ///
  /// - Throws: ``TrainingError/invalidSetting(name:value:allowed:)`` for
  ///   fewer than one thread, and what ``makeTask(sharingDataWith:)`` throws.
  public func makeTrainer(
    communicator: any Communicator, runDirectory: URL?, threads: Int = 1
  ) throws -> Trainer {
    guard threads >= 1 else {
      throw TrainingError.invalidSetting(name: "threads", value: "\(threads)", allowed: "≥ 1")
    }
    let task = try makeTask()
    let replicas = try (1..<threads).map { _ in try makeTask(sharingDataWith: task) }
    let sampler = try makeSampler(for: task)
    let trainer = try Trainer(
      task: task, communicator: communicator, sampler: sampler,
      optimizer: optimizer.makeOptimizer(parameterCount: task.parameterCount),
      tolerances: tolerances, settings: makeSettings(sampler: sampler),
      runDirectory: runDirectory, configText: resolvedYAML, replicas: replicas)
    trainer.resumeCheck = checkResumable(from:)
    return trainer
  }
}
