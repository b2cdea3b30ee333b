import Foundation
import NodeCore
import NodeData
import NodeDistributed

/// Data-parallel training of a ``TrainingTask`` on every rank of a
/// communicator, with rank 0 as the coordinator.
///
/// One step: every rank computes the gradients of its chunks of the global
/// batch (``NodeData/DistributedSampler``); one all-gather hands every rank
/// every chunk's gradient and statistics; every rank sums the chunks in chunk
/// order, so the update — and the parameters after any number of steps — are
/// bitwise the same on 1, 2, 4 or 8 ranks (and identical on all ranks). A
/// step where any chunk failed (non-finite values, a failed solve) is skipped
/// by all ranks together. Rank 0 decides the tolerances of every step and
/// broadcasts them, writes metrics and checkpoints.
///
/// Within a rank, ``replicas`` (copies of the task with their own model)
/// let several threads compute the rank's chunks at once; the chunks are
/// still summed in chunk order, so the thread count changes nothing either.
public final class Trainer {
  /// The model and data.
  public let task: any TrainingTask
  /// Further copies of the task (same data and settings, their own model and
  /// scratch), one per extra worker thread; they get `task`'s parameters and
  /// tolerances before every step.
  public let replicas: [any TrainingTask]
  /// The ranks.
  public let communicator: any Communicator
  /// Which samples each step uses.
  public let sampler: DistributedSampler
  /// Length, logging, evaluation and checkpoint cadence.
  public let settings: TrainerSettings
  /// The run directory (rank 0 writes `metrics.jsonl` and `checkpoints/` there).
  public let runDirectory: URL?
  /// The resolved configuration stored in checkpoints.
  public let configText: String
  /// Sees rank 0's events.
  public var observer: (TrainerEvent) -> Void = { _ in }
  /// Checks, on rank 0, that a checkpoint's stored config may be continued
  /// by this run (throw to refuse; the error reaches every rank).
  public var resumeCheck: (String) throws -> Void = { _ in }

  /// The optimizer and its state.
  public private(set) var optimizer: Optimizer
  /// The tolerance schedules and their state.
  public private(set) var tolerances: SolverTolerances
  /// Steps done (updates plus skips).
  public private(set) var step = 0
  /// Skipped steps, in total and in a row.
  public private(set) var skippedSteps = 0
  public private(set) var consecutiveSkips = 0

  private let exchange: ChunkExchange
  private var appliedTolerances: SolveTolerances?
  private var epochOrder: (epoch: Int, order: [Int])?
  private var metricsFile: FileHandle?
  private let clock = ContinuousClock()

  /// A trainer; call ``start(resume:)`` then ``run()``.
  ///
  /// - Throws: ``TrainingError/invalidSetting(name:value:allowed:)`` when
  ///   there are more ranks than chunks.
  public init(
    task: any TrainingTask, communicator: any Communicator, sampler: DistributedSampler,
    optimizer: Optimizer, tolerances: SolverTolerances, settings: TrainerSettings,
    runDirectory: URL?, configText: String = "", replicas: [any TrainingTask] = []
  ) throws {
    guard communicator.size <= sampler.chunkCount else {
      throw TrainingError.invalidSetting(
        name: "number of ranks", value: "\(communicator.size)",
        allowed: "at most train.chunks = \(sampler.chunkCount) (each rank needs a chunk of the"
          + " global batch; raise train.chunks)")
    }
    self.task = task
    self.replicas = replicas
    self.communicator = communicator
    self.sampler = sampler
    self.optimizer = optimizer
    self.tolerances = tolerances
    self.settings = settings
    self.runDirectory = runDirectory
    self.configText = configText
    exchange = ChunkExchange(
      chunkCount: sampler.chunkCount, ranks: communicator.size, rank: communicator.rank)
  }

  private var isCoordinator: Bool { communicator.rank == 0 }

  /// Rank 0's checkpoint store (nil on other ranks and without a run directory).
  private func checkpointStore() throws -> CheckpointStore? {
    guard let runDirectory, isCoordinator else { return nil }
    return try CheckpointStore(
      directory: runDirectory.appendingPathComponent("checkpoints"),
      keep: settings.keepCheckpoints)
  }

  // MARK: Starting

  /// Sets the parameters on every rank: from the newest checkpoint that
  /// verifies when `resume` (rank 0 reads it and broadcasts it), otherwise
  /// from the settings' initial weights file (likewise), otherwise from the
  /// task's initialisation at the settings' seed.
  ///
  /// - Throws: ``TrainingError`` when the checkpoint does not fit this run.
  public func start(resume: Bool) throws {
    var skipped: [String] = []
    var source: String?
    var setAside: String?
    let decision = try communicator.coordinatorDecision {
      guard let store = try checkpointStore() else { return Data() }
      // A fresh start never mixes its checkpoints with an earlier run's.
      func setAsideEarlierRun() throws -> Data {
        setAside = try Self.setAside(store)
        return Data()
      }
      guard resume else { return try setAsideEarlierRun() }
      let (loaded, failures) = try store.newestValid()
      skipped = failures.map { "\($0.url.lastPathComponent): \($0.reason)" }
      guard let loaded else { return try setAsideEarlierRun() }
      let state = try JSONDecoder().decode(TrainingState.self, from: loaded.state)
      guard state.step == loaded.step, state.step >= 0 else {
        throw TrainingError.incompatibleCheckpoint(
          "\(loaded.url.path): state.json says step \(state.step), the manifest \(loaded.step)"
            + " (a step ≥ 0 in both)")
      }
      try check(state)
      try resumeCheck(state.config)
      _ = try optimizer.resumed(from: state.optimizer)
      let parameters = try task.parameters(from: loaded.weights)
      guard ParameterChecksum.hex(parameters) == state.parameterChecksum else {
        throw TrainingError.incompatibleCheckpoint(
          "\(loaded.url.path): the weights do not match the checksum in state.json")
      }
      task.parameters = parameters
      source = loaded.url.path
      return loaded.state
    }
    if decision.isEmpty {
      task.initializeParameters(seed: settings.seed)
      if let url = settings.initialWeights {
        // Rank 0 reads the file; every rank gets its parameters (or its error).
        _ = try communicator.coordinatorDecision {
          task.parameters = try task.parameters(from: SafetensorsFile(contentsOf: url))
          return Data()
        }
        var parameters = task.parameters
        try communicator.broadcast(array: &parameters)
        task.parameters = parameters
      }
    } else {
      let state = try JSONDecoder().decode(TrainingState.self, from: decision)
      var parameters =
        isCoordinator ? task.parameters : [Float](repeating: 0, count: task.parameterCount)
      try communicator.broadcast(array: &parameters)
      task.parameters = parameters
      try restore(state)
    }
    try verifyParametersAgree()
    if isCoordinator {
      try openMetrics(appending: !decision.isEmpty)
      observer(
        .started(
          step: step, resumedFrom: source, skippedCheckpoints: skipped,
          earlierCheckpointsMovedTo: setAside))
    }
  }

  /// Moves an earlier run's checkpoints (if any), with its `metrics.jsonl`,
  /// to a sibling directory named by the time; returns its path.
  private static func setAside(_ store: CheckpointStore) throws -> String? {
    guard try !store.checkpoints().isEmpty else { return nil }
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    formatter.timeZone = TimeZone(identifier: "UTC")
    let stamp = formatter.string(from: Date())
    let parent = store.directory.deletingLastPathComponent()
    var target = parent.appendingPathComponent("checkpoints.before-\(stamp)")
    var suffix = 1
    while FileManager.default.fileExists(atPath: target.path) {
      suffix += 1
      target = parent.appendingPathComponent("checkpoints.before-\(stamp)-\(suffix)")
    }
    try FileManager.default.moveItem(at: store.directory, to: target)
    try FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true)
    let metrics = parent.appendingPathComponent("metrics.jsonl")
    if FileManager.default.fileExists(atPath: metrics.path) {
      try FileManager.default.moveItem(
        at: metrics, to: target.appendingPathComponent("metrics.jsonl"))
    }
    return target.path
  }

  private func check(_ state: TrainingState) throws {
    guard state.formatVersion == TrainingState.currentFormatVersion else {
      throw TrainingError.incompatibleCheckpoint(
        "state format \(state.formatVersion); this build reads \(TrainingState.currentFormatVersion)"
      )
    }
    let mine = (sampler.globalBatch, sampler.chunkCount, task.parameterCount)
    let theirs = (state.globalBatch, state.chunkCount, state.parameterCount)
    guard mine == theirs else {
      throw TrainingError.incompatibleCheckpoint(
        "the checkpoint has global batch \(theirs.0), \(theirs.1) chunks and \(theirs.2)"
          + " parameters; this run has \(mine.0), \(mine.1) and \(mine.2)")
    }
  }

  /// The checkpoint's state under this run's settings: moments, step and
  /// adaptive tolerances from the checkpoint; hyperparameters and schedules
  /// from the config (so a resumed run may, e.g., lower the learning rate).
  private func restore(_ state: TrainingState) throws {
    step = state.step
    optimizer = try optimizer.resumed(from: state.optimizer)
    tolerances = tolerances.resumed(from: state.tolerances)
    skippedSteps = state.skippedSteps
    consecutiveSkips = state.consecutiveSkips
  }

  /// Opens `metrics.jsonl`: a fresh run starts it anew (an earlier run's with
  /// checkpoints went with them into `checkpoints.before-…/`); a
  /// resumed run keeps the lines up to its step and drops those of the steps
  /// it will run again.
  private func openMetrics(appending: Bool) throws {
    guard let runDirectory else { return }
    try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
    let url = runDirectory.appendingPathComponent("metrics.jsonl")
    var kept = Data()
    if appending, let old = try? String(contentsOf: url, encoding: .utf8) {
      for line in old.split(separator: "\n")
      where MetricsJSON.step(of: line).map({ $0 <= step }) ?? false {
        kept.append(Data((line + "\n").utf8))
      }
    }
    try kept.write(to: url, options: .atomic)
    metricsFile = try FileHandle(forWritingTo: url)
    try metricsFile?.seekToEnd()
  }

  private func writeMetrics(_ value: some Encodable) throws {
    try metricsFile?.write(contentsOf: Data((MetricsJSON.line(value) + "\n").utf8))
  }

  // MARK: Running

  /// Trains until ``TrainerSettings/steps`` steps are done, evaluating and
  /// checkpointing on the way and at the end; returns the final evaluation.
  public func run() throws -> EvaluationMetrics {
    while step < settings.steps {
      try trainStep()
      let (epoch, stepInEpoch) = sampler.position(ofStep: step)
      let epochEnded = stepInEpoch == 0 && epoch > 0
      if settings.checksumEvery > 0 && step % settings.checksumEvery == 0 {
        try verifyParametersAgree()
      }
      if let every = settings.evaluateEvery, step % every == 0, step < settings.steps {
        try evaluate()
      }
      let periodic = settings.checkpointEvery.map { step % $0 == 0 } ?? false
      if step < settings.steps && (periodic || (epochEnded && settings.checkpointAtEpochEnd)) {
        try checkpoint()
      }
    }
    try verifyParametersAgree()
    let final = try evaluate()
    try checkpoint()
    return final
  }

  /// Evaluates the held-out set at the evaluation tolerance (all ranks).
  @discardableResult
  public func evaluate() throws -> EvaluationMetrics {
    let tolerance = try applyTolerances().evaluation
    let metrics = try DistributedEvaluation.run(
      task, communicator: communicator, step: step, tolerance: tolerance,
      limit: settings.evaluationLimit)
    if isCoordinator {
      tolerances.evaluation.observe(meanEvaluations: metrics.nfeMean)
      try writeMetrics(metrics)
      observer(.evaluation(metrics))
    }
    return metrics
  }

  /// Rank 0 decides this step's tolerances; every rank applies them.
  private func applyTolerances() throws -> SolveTolerances {
    let (epoch, _) = sampler.position(ofStep: step)
    let data = try communicator.coordinatorDecision {
      let values = tolerances.values(step: step, epoch: epoch).flat
      return values.withUnsafeBytes { Data($0) }
    }
    let flat = data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
    let decided = SolveTolerances(flat: flat)
    if decided != appliedTolerances {
      for worker in [task] + replicas { try worker.apply(decided) }
      appliedTolerances = decided
    }
    return decided
  }

  private func batch(epoch: Int, stepInEpoch: Int) -> [Int] {
    if epochOrder?.epoch != epoch { epochOrder = (epoch, sampler.order(epoch: epoch)) }
    return sampler.batch(stepInEpoch: stepInEpoch, order: epochOrder!.order)
  }

  /// A 64-bit seed for this step's noise, mixing the run's seed and the step.
  private func noiseSeed(step: Int) -> UInt64 {
    var z = settings.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(step + 1)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// What one chunk's gradient computation gave.
  private struct ChunkOutcome {
    var record = ChunkStatistics()
    var gradient: [Float]?
    var error: String?
  }

  /// The gradients of this rank's chunks `chunks` of `batch`, in that order:
  /// on the task alone, or shared among the task and its replicas (each with
  /// this step's parameters), one thread each.
  private func computeChunks(_ chunks: [Int], of batch: [Int], noiseSeed: UInt64)
    -> [ChunkOutcome]
  {
    let workers = [task] + replicas.prefix(max(0, chunks.count - 1))
    if workers.count > 1 {
      let parameters = task.parameters
      for replica in workers.dropFirst() { replica.parameters = parameters }
    }
    let results = ItemResults<ChunkOutcome>(count: chunks.count)
    let shared = UncheckedSendable((workers, sampler, chunks, batch, clock))
    WorkSharing.run(items: chunks.count, workers: workers.count) { worker, item in
      let (workers, sampler, chunks, batch, clock) = shared.value
      let samples = sampler.chunk(chunks[item], of: batch)
      let started = clock.now
      var outcome = ChunkOutcome()
      do {
        let result = try workers[worker].gradient(samples: samples, noiseSeed: noiseSeed)
        outcome.record = ChunkStatistics(
          result, samples: samples, seconds: (clock.now - started).seconds)
        if outcome.record.failure == .none { outcome.gradient = result.gradient }
      } catch {
        outcome.record.failure = .error
        outcome.record.failedSample = Double(samples.first ?? -1)
        outcome.record.seconds = (clock.now - started).seconds
        outcome.error = "\(error)"
      }
      results.store(item, outcome)
    }
    return results.values()
  }

  private func trainStep() throws {
    let started = clock.now
    let tolerances = try applyTolerances()
    let (epoch, stepInEpoch) = sampler.position(ofStep: step)
    let batch = batch(epoch: epoch, stepInEpoch: stepInEpoch)
    let seed = noiseSeed(step: step)
    let owned = Array(exchange.owned)
    let outcomes = computeChunks(owned, of: batch, noiseSeed: seed)
    var gradients: [[Float]] = []
    var statistics: [[Double]] = []
    var localError: String?
    for outcome in outcomes {
      if localError == nil { localError = outcome.error }
      // A failed chunk contributes zeros (the step is skipped anyway).
      gradients.append(outcome.gradient ?? [Float](repeating: 0, count: task.parameterCount))
      statistics.append(outcome.record.flat)
    }
    let communicationStart = clock.now
    let gatheredStatistics = try exchange.gather(
      statistics, width: ChunkStatistics.width, over: communicator)
    let gatheredGradients = try exchange.gather(
      gradients, width: task.parameterCount, over: communicator)
    let communication = (clock.now - communicationStart).seconds
    let records = (0..<sampler.chunkCount).map {
      ChunkStatistics(flat: gatheredStatistics.chunk($0))
    }
    var metrics = aggregate(records, epoch: epoch, tolerances: tolerances)
    // A rank's compute time: its chunks' seconds over the threads that shared
    // them (every rank runs the same number of worker threads).
    let threads = 1 + replicas.count
    let rankCompute = (0..<communicator.size).map { r in
      let owned = exchange.owned(by: r)
      let seconds = owned.reduce(0.0) { $0 + records[$1].seconds }
      return seconds / Double(max(1, min(threads, owned.count)))
    }
    let slowest = rankCompute.max() ?? 0
    metrics.computeSecondsMax = slowest
    metrics.waitSeconds = rankCompute.reduce(0) { $0 + (slowest - $1) } / Double(rankCompute.count)
    metrics.communicationSeconds = max(
      0, communication - (slowest - rankCompute[communicator.rank]))

    if let failed = records.firstIndex(where: { $0.failure != .none }) {
      let record = records[failed]
      var reason = "chunk \(failed): \(record.failure.description)"
      if let localError, exchange.owned.contains(failed) { reason += ": \(localError)" }
      return try skip(
        metrics, reason: reason, sample: Int(record.failedSample), started: started)
    }
    var gradient = gatheredGradients.orderedSum(scale: 1 / Float(sampler.chunkCount))
    guard gradient.allSatisfy(\.isFinite) else {
      // Finite chunks whose sum overflowed: skip like a failed chunk.
      return try skip(
        metrics, reason: "the summed gradient overflowed", sample: batch.first ?? -1,
        started: started)
    }
    consecutiveSkips = 0
    metrics.gradientNorm =
      settings.clipNorm.map { GradientClipping.clip(&gradient, maxNorm: $0) }
      ?? GradientClipping.norm(gradient)
    var parameters = task.parameters
    optimizer.update(&parameters, gradient: gradient, learningRate: metrics.learningRate)
    task.parameters = parameters
    step += 1
    metrics.step = step
    metrics.stepSeconds = (clock.now - started).seconds
    if isCoordinator {
      self.tolerances.forward.observe(meanEvaluations: metrics.nfeForwardMean)
      self.tolerances.adjoint.observe(meanEvaluations: metrics.nfeBackwardMean)
    }
    try report(metrics, always: step == settings.steps)
  }

  /// Counts a skipped step (every rank, together), logs it, and stops the
  /// run after too many in a row.
  private func skip(
    _ metrics: StepMetrics, reason: String, sample: Int, started: ContinuousClock.Instant
  ) throws {
    var metrics = metrics
    skippedSteps += 1
    consecutiveSkips += 1
    metrics.skipped = true
    metrics.skipReason = reason
    metrics.skipSample = sample
    step += 1
    metrics.step = step
    metrics.stepSeconds = (clock.now - started).seconds
    try report(metrics, always: true)
    if consecutiveSkips >= settings.maxConsecutiveSkips {
      throw TrainingError.tooManySkippedSteps(count: consecutiveSkips, lastReason: reason)
    }
  }

  private func report(_ metrics: StepMetrics, always: Bool) throws {
    guard isCoordinator else { return }
    if always || settings.logEvery <= 1 || metrics.step % settings.logEvery == 0 {
      try writeMetrics(metrics)
    }
    observer(.step(metrics))
  }

  /// Combines every chunk's record into the step's metrics (chunk order).
  private func aggregate(
    _ records: [ChunkStatistics], epoch: Int, tolerances: SolveTolerances
  ) -> StepMetrics {
    let samples = Double(sampler.globalBatch)
    let chunks = Double(records.count)
    var metrics = StepMetrics(
      step: step, epoch: epoch, loss: records.reduce(0) { $0 + $1.loss } / chunks,
      nfeForwardMean: records.reduce(0) { $0 + $1.forwardSum } / samples,
      nfeForwardMax: records.map(\.forwardMax).max() ?? 0,
      nfeBackwardMean: records.reduce(0) { $0 + $1.backwardSum } / samples,
      nfeBackwardMax: records.map(\.backwardMax).max() ?? 0,
      rejectedSteps: records.reduce(0) { $0 + $1.rejectedSteps },
      learningRate: settings.learningRate.rate(atStep: step),
      rtolForward: tolerances.forward.relative, rtolAdjoint: tolerances.adjoint.relative,
      gradientNorm: 0, stepSeconds: 0, computeSecondsMax: 0, communicationSeconds: 0,
      waitSeconds: 0, skipped: false)
    let metric = records.reduce(0) { $0 + $1.metricSum } / samples
    switch task.objective {
    case .classification:
      metrics.accuracy = metric
    case .density(let dimension):
      metrics.nll = metric
      metrics.bitsPerDim = metric / (Double(dimension) * log(2))
    case .divergence:
      metrics.kl = metric
    }
    return metrics
  }

  /// Every rank's parameter hash must be equal.
  ///
  /// - Throws: ``TrainingError/parametersDiverged(step:)`` on every rank.
  public func verifyParametersAgree() throws {
    guard communicator.size > 1 else { return }
    // 52 bits of the hash fit a Double exactly; max(h) == −max(−h) iff all equal.
    let h = Double(ParameterChecksum.hash(task.parameters) >> 12)
    var extremes = [h, -h]
    try communicator.allReduce(&extremes, .max)
    guard extremes[0] == -extremes[1] else { throw TrainingError.parametersDiverged(step: step) }
  }

  // MARK: Checkpoints

  /// The state to store beside the weights.
  public var state: TrainingState {
    let (epoch, stepInEpoch) = sampler.position(ofStep: step)
    return TrainingState(
      step: step, epoch: epoch, stepInEpoch: stepInEpoch, optimizer: optimizer,
      tolerances: tolerances, skippedSteps: skippedSteps, consecutiveSkips: consecutiveSkips,
      seed: settings.seed, worldSize: communicator.size, globalBatch: sampler.globalBatch,
      chunkCount: sampler.chunkCount, parameterCount: task.parameterCount,
      parameterChecksum: ParameterChecksum.hex(task.parameters), config: configText)
  }

  /// Rank 0 writes a checkpoint of the current step; every rank learns
  /// whether it worked (a failed write stops the run on all ranks, with the
  /// previous checkpoints intact).
  public func checkpoint() throws {
    _ = try communicator.coordinatorDecision {
      guard let store = try checkpointStore() else { return Data() }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      let url = try store.save(
        step: step, weights: task.namedTensors(of: task.parameters),
        metadata: ["format": "node-dist", "step": "\(step)"], state: try encoder.encode(state))
      observer(.checkpoint(path: url.path, step: step))
      return Data()
    }
  }
}
