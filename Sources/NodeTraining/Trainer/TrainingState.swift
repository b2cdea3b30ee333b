import Foundation

/// Everything besides the weights that a resumed run needs to continue
/// exactly where the stopped one was: the `state.json` of a checkpoint.
///
/// The sampler's position and every random draw are functions of `(seed,
/// step)`, so the step counter is the sampler position and the RNG counter.
public struct TrainingState: Sendable, Codable, Equatable {
  /// The format of this file.
  public static let currentFormatVersion = 1
  public var formatVersion = TrainingState.currentFormatVersion
  /// Optimizer steps taken (updates plus skipped steps).
  public var step: Int
  /// The epoch and the step within it of the next step.
  public var epoch: Int
  public var stepInEpoch: Int
  /// The optimizer, moments included.
  public var optimizer: Optimizer
  /// The tolerance schedules, with any adaptive state.
  public var tolerances: SolverTolerances
  /// Skipped steps so far, and in a row at the end.
  public var skippedSteps: Int
  public var consecutiveSkips: Int
  /// The seed of data order, noise and initialisation.
  public var seed: UInt64
  /// The shape of the run: ranks that wrote it (informative: any rank count
  /// may resume), global batch, chunks and parameter count (must match).
  public var worldSize: Int
  public var globalBatch: Int
  public var chunkCount: Int
  public var parameterCount: Int
  /// A hash of the parameters (``ParameterChecksum``), checked on load.
  public var parameterChecksum: String
  /// The resolved configuration of the run.
  public var config: String
}

/// A 64-bit FNV-1a hash of parameters' bit patterns: equal hashes on all
/// ranks mean (with overwhelming probability) equal parameters.
public enum ParameterChecksum {
  /// The hash of `parameters`.
  public static func hash(_ parameters: [Float]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for p in parameters {
      h ^= UInt64(p.bitPattern)
      h = h &* 0x100_0000_01b3
    }
    return h
  }

  /// The hash as 16 hex digits.
  public static func hex(_ parameters: [Float]) -> String {
    let h = String(hash(parameters), radix: 16)
    return String(repeating: "0", count: 16 - h.count) + h
  }
}
