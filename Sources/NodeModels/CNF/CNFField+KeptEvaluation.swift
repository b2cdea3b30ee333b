import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// What a ``CNFField`` keeps of one evaluation: the network's pass and JVP
/// (and for a kept vector-Jacobian product the backward pass of both), and
/// the rows' times, outputs `f`, directions `v` and images `J v`.
final class CNFKeptEvaluation<Scalar: TensorScalar> {
  /// The network the pass ran through (a holder serves one network only).
  let network: Sequential<Scalar>
  let pass: KeptPass<Scalar>
  /// The backward pass too (a kept product's), holding `pass`.
  let backward: KeptJVPBackward<Scalar>?
  let times = ScratchBuffer<Scalar>()
  let outputs = ScratchBuffer<Scalar>()
  let directions = ScratchBuffer<Scalar>()
  let images = ScratchBuffer<Scalar>()

  /// A holder of passes through `network`, with their backward passes when
  /// `keepingBackward`.
  init(network: Sequential<Scalar>, keepingBackward: Bool = false) {
    self.network = network
    backward = keepingBackward ? network.makeKeptJVPBackward() : nil
    pass = backward?.pass ?? network.makeKeptPass()
  }

  /// Copies the `n` rows' times, `f`, `v` and `J v` (`width` = directions × D).
  func copy(
    times t: UnsafePointer<Scalar>, f: UnsafePointer<Scalar>, v: UnsafePointer<Scalar>,
    jv: UnsafePointer<Scalar>, rows n: Int, dimension d: Int, width: Int
  ) {
    times.reserve(n).update(from: t, count: n)
    outputs.reserve(n * d).update(from: f, count: n * d)
    directions.reserve(n * width).update(from: v, count: n * width)
    images.reserve(n * width).update(from: jv, count: n * width)
  }
}

extension CNFField {
  public func keepNextEvaluation(in evaluation: KeptEvaluation<Scalar>) {
    evaluationToKeep = evaluation
  }

  /// Hands the network's pass on `batch` to `evaluation`, with copies of the
  /// rows' times, `f`, `v` and `J v`.
  func keep(
    _ batch: FieldBatch<Scalar>, f: UnsafePointer<Scalar>, v: UnsafePointer<Scalar>,
    jv: UnsafePointer<Scalar>, in evaluation: KeptEvaluation<Scalar>
  ) {
    let record: CNFKeptEvaluation<Scalar>
    if let kept = evaluation.record as? CNFKeptEvaluation<Scalar>, kept.network === network {
      record = kept
    } else {
      record = CNFKeptEvaluation(network: network)
      evaluation.record = record
    }
    evaluation.rows = batch.count
    record.copy(
      times: batch.times, f: f, v: v, jv: jv, rows: batch.count, dimension: dataDimension,
      width: directionCount * dataDimension)
    network.keepLastPass(in: record.pass)
  }

  public func keptRowsAreFinite(
    _ evaluation: KeptEvaluation<Scalar>, rows chosen: UnsafePointer<Int>, count: Int
  ) -> Bool {
    guard let record = evaluation.record as? CNFKeptEvaluation<Scalar>, record.network === network
    else { preconditionFailure("the evaluation was not kept by this field") }
    let width = directionCount * dataDimension
    let copies = [
      (record.times, 1), (record.outputs, dataDimension), (record.directions, width),
      (record.images, width),
    ]
    return copies.allSatisfy { $0.rowsAreFinite(chosen, count: count, columns: $1) }
      && network.keptRowsAreFinite(record.pass, rows: chosen, count: count)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func vectorJacobianProduct(
    of evaluation: KeptEvaluation<Scalar>, rows chosen: UnsafePointer<Int>?, count: Int,
    cotangents: MatrixView<Scalar>, stateCotangents: MutableMatrixView<Scalar>,
    parameterGradient: UnsafeMutablePointer<Scalar>
  ) {
    guard let record = evaluation.record as? CNFKeptEvaluation<Scalar>, record.network === network
    else { preconditionFailure("the evaluation was not kept by this field") }
    precondition(evaluation.rows > 0, "the kept evaluation was consumed or holds no rows")
    precondition(
      chosen == nil ? count == evaluation.rows : count <= evaluation.rows,
      "\(count) rows asked of a kept evaluation of \(evaluation.rows)")
    let n = chosen == nil ? evaluation.rows : count
    if let chosen {
      for k in 0..<n {
        precondition(chosen[k] >= 0 && chosen[k] < evaluation.rows, "row \(chosen[k]) not kept")
      }
    }
    let (times, f, v, jv) = keptRows(of: record, rows: chosen, count: n)
    network.restorePass(record.pass, rows: chosen, count: n)
    if chosen == nil { evaluation.rows = 0 }
    parameters.withUnsafeBufferPointer { p in
      backThroughNetwork(
        rows: n, times: times, f: f, v: v, jv: jv, parameters: p.baseAddress!,
        cotangents: cotangents, stateCotangents: stateCotangents, timeCotangents: nil,
        parameterGradient: ParameterGradientSink(gradient: parameterGradient))
    }
  }

  /// The times, `f`, `v` and `J v` of rows `rows[0 ..< count]` of `record`
  /// (gathered), or of all its rows in place when `rows` is nil.
  func keptRows(
    of record: CNFKeptEvaluation<Scalar>, rows chosen: UnsafePointer<Int>?, count n: Int
  ) -> (
    times: UnsafePointer<Scalar>, f: UnsafePointer<Scalar>, v: UnsafePointer<Scalar>,
    jv: UnsafePointer<Scalar>
  ) {
    let (times, f, v, jv) = (
      UnsafePointer(record.times.base), UnsafePointer(record.outputs.base),
      UnsafePointer(record.directions.base), UnsafePointer(record.images.base)
    )
    guard let chosen else { return (times, f, v, jv) }
    let width = directionCount * dataDimension
    return (
      UnsafePointer(gathered.times.gather(rows: chosen, count: n, of: times, columns: 1)),
      UnsafePointer(gathered.outputs.gather(rows: chosen, count: n, of: f, columns: dataDimension)),
      UnsafePointer(gathered.directions.gather(rows: chosen, count: n, of: v, columns: width)),
      UnsafePointer(gathered.images.gather(rows: chosen, count: n, of: jv, columns: width))
    )
  }
}
