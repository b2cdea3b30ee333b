import Foundation
import NodeCore
import NodeData
import NodeDistributed

/// Held-out evaluation split across ranks: rank `r` evaluates a contiguous
/// part of the set (``NodeData/DistributedSampler/evaluationRange(count:rank:of:)``),
/// every sample exactly once; the per-sample records are gathered and summed
/// in sample order, so the result is the same on any number of ranks.
public enum DistributedEvaluation {
  /// Evaluates `task`'s held-out set (or its first `limit` samples) at the
  /// tolerance the task was last given; `tolerance` is only reported.
  ///
  /// - Throws: ``TrainingError/evaluationFailed(rank:reason:)`` on every rank
  ///   when any rank's evaluation failed; ``CommunicatorError``.
  public static func run(
    _ task: any TrainingTask, communicator: any Communicator, step: Int, tolerance: Tolerance,
    limit: Int? = nil
  ) throws -> EvaluationMetrics {
    let clock = ContinuousClock()
    let start = clock.now
    let count = min(limit ?? task.evaluationSetSize, task.evaluationSetSize)
    let records = try self.records(count: count, communicator: communicator) {
      try task.evaluate(samples: $0)
    }
    return summary(
      records, objective: task.objective, step: step, tolerance: tolerance,
      seconds: (clock.now - start).seconds)
  }

  /// Every record of `0..<count`, in order, on every rank: rank `r` runs
  /// `evaluate` on its contiguous part and one all-gather shares the parts.
  ///
  /// - Throws: ``TrainingError/evaluationFailed(rank:reason:)`` on every rank
  ///   when `evaluate` threw on any rank; ``CommunicatorError``.
  public static func records(
    count: Int, communicator: any Communicator,
    evaluate: (Range<Int>) throws -> [SampleEvaluation]
  ) throws -> [SampleEvaluation] {
    let ranks = communicator.size
    let mine = DistributedSampler.evaluationRange(count: count, rank: communicator.rank, of: ranks)
    let slots = (count + ranks - 1) / ranks
    // Per sample: loss, correct, NFE; after a rank's slots, its status (0 fine, 1 failed).
    let width = 3
    let block = slots * width + 1
    var local = [Double](repeating: 0, count: block)
    var failure = ""
    do {
      for (i, record) in try evaluate(mine).enumerated() {
        local[i * width] = record.loss
        local[i * width + 1] = record.correct
        local[i * width + 2] = Double(record.evaluations)
      }
    } catch {
      failure = "\(error)"
      local[slots * width] = 1
    }
    let all = ranks == 1 ? local : try communicator.allGather(local)
    if let failed = (0..<ranks).first(where: { all[$0 * block + slots * width] != 0 }) {
      throw TrainingError.evaluationFailed(
        rank: failed, reason: failed == communicator.rank ? failure : "see that rank's error")
    }
    var records: [SampleEvaluation] = []
    records.reserveCapacity(count)
    for r in 0..<ranks {
      let range = DistributedSampler.evaluationRange(count: count, rank: r, of: ranks)
      for i in 0..<range.count {
        let base = r * block + i * width
        records.append(
          SampleEvaluation(loss: all[base], correct: all[base + 1], evaluations: Int(all[base + 2]))
        )
      }
    }
    return records
  }

  /// The metrics of per-sample records, summed in sample order.
  public static func summary(
    _ records: [SampleEvaluation], objective: TaskObjective, step: Int, tolerance: Tolerance,
    seconds: Double
  ) -> EvaluationMetrics {
    var (loss, correct, nfe, nfeMax) = (0.0, 0.0, 0.0, 0)
    for record in records {
      loss += record.loss
      correct += record.correct
      nfe += Double(record.evaluations)
      nfeMax = max(nfeMax, record.evaluations)
    }
    let n = Double(max(records.count, 1))
    var metrics = EvaluationMetrics(
      step: step, samples: records.count, loss: loss / n, nfeMean: nfe / n, nfeMax: nfeMax,
      rtol: tolerance.relative, atol: tolerance.absolute, seconds: seconds)
    switch objective {
    case .classification:
      metrics.accuracy = correct / n
    case .density(let dimension):
      metrics.nll = loss / n
      metrics.bitsPerDim = loss / n / (Double(dimension) * log(2))
    case .divergence:
      metrics.kl = loss / n
    }
    return metrics
  }
}
