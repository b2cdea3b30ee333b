import Foundation

/// A whole experiment file (`configs/*.yaml`), decoded and validated: the
/// model, its data, the run's length and batching, the optimizer and its
/// learning-rate schedule, the three tolerance schedules and the run's
/// logging and checkpoint cadence. Unknown keys anywhere are errors that
/// list the keys understood there.
public struct ExperimentConfiguration: Sendable {
  /// The model.
  public var model: ModelConfiguration
  /// The data.
  public var data: DataConfiguration
  /// Length, batching, seeds, skips.
  public var train: TrainConfiguration
  /// The optimizer and learning rate.
  public var optimizer: OptimizerConfiguration
  /// Forward, adjoint and evaluation tolerances.
  public var tolerances: SolverTolerances
  /// Logging, evaluation and checkpoints.
  public var run: RunConfiguration
  /// The document after `--set` overrides, to store with the run.
  public var resolvedYAML: String
  /// The file it came from.
  public var source: String

  /// Reads `url`, applies `overrides` (`key.path=value`) and decodes.
  ///
  /// - Throws: ``ConfigError`` naming the key, the value and what is allowed.
  public init(contentsOf url: URL, overrides: [String] = []) throws {
    try self.init(reader: ConfigReader(contentsOf: url), overrides: overrides, source: url.path)
  }

  /// Decodes YAML text (for tests and tools).
  public init(yaml: String, overrides: [String] = [], source: String = "<config>") throws {
    try self.init(
      reader: ConfigReader(yaml: yaml, source: source), overrides: overrides, source: source)
  }

  private init(reader: ConfigReader, overrides: [String], source: String) throws {
    for assignment in overrides { try reader.applyOverride(assignment) }
    let root = reader.root
    model = try ModelConfiguration(root.section("model"))
    data = try DataConfiguration(root.section("data"), model: model)
    train = try TrainConfiguration(root.section("train"))
    optimizer = try OptimizerConfiguration(
      root.section("optimizer"), schedule: root.section("lr_schedule"))
    tolerances = try ToleranceConfiguration.schedules(root.section("tolerance"))
    run = try RunConfiguration(root.section("run"))
    try reader.checkAllKeysRead()
    resolvedYAML = reader.resolvedYAML
    self.source = source
  }
}

/// `train:` — how long, how big a batch, how it is cut, seeds and skips.
public struct TrainConfiguration: Sendable, Equatable {
  /// The run's length: steps, or epochs over the training set.
  public enum Length: Sendable, Equatable {
    case steps(Int)
    case epochs(Int)
  }
  public var length: Length
  /// The global batch (over all ranks).
  public var batchSize: Int
  /// The global batches `train.batch_size` allows.
  public static let batchSizeRange = 1...1_000_000
  /// Chunks per global batch: the unit of work and of the fixed-order
  /// reduction; the most ranks a run can use.
  public var chunks: Int
  /// The last incomplete batch of an epoch.
  public var remainder: RemainderPolicyName
  /// The seed of initialisation, data order and noise.
  public var seed: UInt64
  /// Gradient clipping by global norm.
  public var clipNorm: Double?
  /// Skipped steps in a row that stop the run.
  public var maxConsecutiveSkips: Int

  init(_ section: ConfigSection) throws {
    let steps = try section.optionalInt("steps", range: 1...Int.max)
    let epochs = try section.optionalInt("epochs", range: 1...100_000)
    switch (steps, epochs) {
    case (let s?, nil): length = .steps(s)
    case (nil, let e?): length = .epochs(e)
    case (nil, nil): length = .steps(1000)
    case (.some, .some):
      throw ConfigError.invalidValue(
        key: "train.steps / train.epochs", value: "both set", allowed: "one of the two")
    }
    batchSize = try section.int("batch_size", default: 128, range: Self.batchSizeRange)
    // Default: the largest divisor of the batch up to 8 (up to 8 ranks).
    let batch = batchSize
    let divisor = (1...Swift.min(8, batch)).last { batch % $0 == 0 }!
    chunks = try section.int("chunks", default: divisor, range: 1...batchSize)
    guard batchSize % chunks == 0 else {
      throw ConfigError.invalidValue(
        key: "train.chunks", value: "\(chunks)",
        allowed: "a divisor of train.batch_size = \(batchSize)")
    }
    remainder = try section.choice("remainder", default: .drop)
    seed = UInt64(try section.int("seed", default: 0, range: 0...Int.max))
    clipNorm = try section.optionalDouble("clip_norm", minimum: 0, exclusiveMinimum: true)
    maxConsecutiveSkips = try section.int("max_consecutive_skips", default: 5, range: 1...1_000_000)
  }
}

/// The config names of ``NodeData/RemainderPolicy``.
public enum RemainderPolicyName: String, Sendable, CaseIterable {
  case drop, pad
}

/// `run:` — logging, evaluation, checkpoints, parameter checks.
public struct RunConfiguration: Sendable, Equatable {
  /// Metrics line every this many steps.
  public var logEvery: Int
  /// Held-out evaluation every this many steps (nil: at the end only).
  public var evaluateEvery: Int?
  /// Held-out samples per evaluation (nil: all).
  public var evaluationSamples: Int?
  /// Checkpoint every this many steps (nil: epoch ends and the end).
  public var checkpointEvery: Int?
  /// Checkpoints kept.
  public var keepCheckpoints: Int
  /// Compare the ranks' parameters every this many steps.
  public var checksumEvery: Int
  /// The run directory (default `runs/<config file name>`).
  public var directory: String?
  /// CNFs: draw density.png at the end, with this many samples per histogram.
  public var picture: Bool
  public var pictureSamples: Int

  init(_ section: ConfigSection) throws {
    logEvery = try section.int("log_every", default: 10, range: 1...Int.max)
    evaluateEvery = try section.optionalInt("eval_every", range: 1...Int.max)
    evaluationSamples = try section.optionalInt("eval_samples", range: 1...Int.max)
    checkpointEvery = try section.optionalInt("checkpoint_every", range: 1...Int.max)
    keepCheckpoints = try section.int("keep_checkpoints", default: 3, range: 1...1000)
    checksumEvery = try section.int("checksum_every", default: 50, range: 1...Int.max)
    directory = try section.optionalString("directory")
    picture = try section.bool("picture", default: true)
    pictureSamples = try section.int("picture_samples", default: 20_000, range: 1...10_000_000)
  }
}
