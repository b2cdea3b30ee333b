import Foundation
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
    let ranks = communicator.size
    let mine = DistributedSampler.evaluationRange(count: count, rank: communicator.rank, of: ranks)
    let slots = (count + ranks - 1) / ranks
    // Per sample: loss, correct, NFE; the last slot of a rank's block holds
    // its status (0 fine, 1 failed) — a rank's range is at most `slots` long.
    let width = 3
    var local = [Double](repeating: 0, count: slots * width + 1)
    var failure = ""
    do {
      for (i, record) in try task.evaluate(samples: mine).enumerated() {
        local[i * width] = record.loss
        local[i * width + 1] = record.correct
        local[i * width + 2] = Double(record.evaluations)
      }
    } catch {
      failure = "\(error)"
      local[slots * width] = 1
    }
    let all = ranks == 1 ? local : try communicator.allGather(local)
    let block = slots * width + 1
    if let failed = (0..<ranks).first(where: { all[$0 * block + slots * width] != 0 }) {
      throw TrainingError.evaluationFailed(
        rank: failed, reason: failed == communicator.rank ? failure : "see that rank's error")
    }
    var loss = 0.0
    var correct = 0.0
    var nfe = 0.0
    var nfeMax = 0
    for r in 0..<ranks {
      let range = DistributedSampler.evaluationRange(count: count, rank: r, of: ranks)
      for i in 0..<range.count {
        let base = r * block + i * width
        loss += all[base]
        correct += all[base + 1]
        nfe += all[base + 2]
        nfeMax = max(nfeMax, Int(all[base + 2]))
      }
    }
    let n = Double(max(count, 1))
    var metrics = EvaluationMetrics(
      step: step, samples: count, loss: loss / n, nfeMean: nfe / n, nfeMax: nfeMax,
      rtol: tolerance.relative, atol: tolerance.absolute, seconds: (clock.now - start).seconds)
    switch task.objective {
    case .classification:
      metrics.accuracy = correct / n
    case .density(let dimension):
      metrics.nll = loss / n
      metrics.bitsPerDim = loss / n / (Double(dimension) * log(2))
    }
    return metrics
  }
}

extension Duration {
  /// The duration in seconds.
  var seconds: Double {
    let (s, attoseconds) = components
    return Double(s) + Double(attoseconds) * 1e-18
  }
}
