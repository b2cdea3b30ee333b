import ArgumentParser
import Foundation
import NodeBench
import NodeCore
import NodeData
import NodeDistributed
import NodeTraining

extension EvalCommand {
  /// `eval --checkpoint … | --config … --weights …`, on every rank.
  func evaluateModel() {
    CommandFailure.onEveryRank(evaluateModel(on:))
  }

  private func evaluateModel(on communicator: any Communicator) throws {
    if let samples, samples < 1 { throw ValidationError("--samples must be ≥ 1, got \(samples)") }
    if output != nil && points == nil { throw ValidationError("--output needs --points") }
    if let output {
      try source.checkOutputs(
        [("--output", output)], inputs: points.map { [("--points", $0)] } ?? [])
    }
    let model = try source.load()
    let clock = ContinuousClock()
    let start = clock.now
    let metrics: EvaluationMetrics
    var what = "held-out set"
    if let points {
      guard let density = model.task as? any PointDensityTask else {
        throw ValidationError("--points evaluates a flow's density; this model is a classifier")
      }
      let d = density.dataDimension
      let rows = try PointsFile.read(points, dimension: d)
      let flat = rows.flatMap { $0.map(Float.init) }
      let records = try DistributedEvaluation.records(count: rows.count, communicator: communicator)
      {
        range in
        try density.negativeLogLikelihoods(
          of: Tensor(
            shape: [range.count, d],
            scalars: Array(flat[(range.lowerBound * d)..<(range.upperBound * d)])))
      }
      metrics = DistributedEvaluation.summary(
        records, objective: .density(dimension: d), step: model.step, tolerance: model.tolerance,
        seconds: (clock.now - start).seconds)
      what = points
      if let output, communicator.isCoordinator {
        let lines = records.map { String(format: "%.9g", -$0.loss) }.joined(separator: "\n")
        try (lines + "\n").write(toFile: output, atomically: true, encoding: .utf8)
      }
    } else {
      metrics = try DistributedEvaluation.run(
        model.task, communicator: communicator, step: model.step, tolerance: model.tolerance,
        limit: samples)
    }
    guard communicator.isCoordinator else { return }
    var table: [(String, String)] = [
      ("model", "\(model.experiment.model.kind.rawValue) from \(model.description)")
    ]
    table.append(("step", "\(model.step)"))
    table.append(("data", "\(what), \(metrics.samples) samples over \(communicator.size) rank(s)"))
    if let accuracy = metrics.accuracy { table.append(("accuracy", percent(accuracy))) }
    if let nll = metrics.nll {
      table.append(
        ("NLL", "\(format(nll, 4)) nats (\(format(metrics.bitsPerDim ?? .nan, 4)) bits/dim)"))
    } else if let kl = metrics.kl {
      table.append(("E[log q − log p̃]", "\(format(kl, 4)) nats (KL minus the target's log Z)"))
    } else {
      table.append(("loss", format(metrics.loss, 4)))
    }
    table.append(("NFE / sample", "mean \(format(metrics.nfeMean, 2)), max \(metrics.nfeMax)"))
    table.append(("tolerance", "rtol \(metrics.rtol), atol \(metrics.atol)"))
    table.append(("seconds", format(metrics.seconds, 2)))
    let width = table.map(\.0.count).max() ?? 0
    for (key, value) in table {
      print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
    }
    if let output { print("wrote \(output)") }
    var line = JSONLine()
    line.add(evaluation: metrics, metricDigits: 6)
    print(line)
  }
}
