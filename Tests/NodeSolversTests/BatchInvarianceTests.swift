import Foundation
import NodeCore
import NodeSolvers
import Testing

/// A sample's trajectory is bitwise the same alone, in a batch of 512, or in
/// another order, and a hard batch-mate changes nothing about an easy sample.
@Suite struct BatchInvarianceTests {
  /// A batch of 512 rotating samples with frequencies from 0.5 to 20.
  static func batch() -> (DampedRotationField<Double>, Tensor<Double>) {
    let frequencies = (0..<512).map { 0.5 + Double(($0 * 37) % 512) / 512 * 19.5 }
    let dampings = (0..<512).map { Double($0 % 7) * 0.05 }
    return (DampedRotationField(frequencies: frequencies, dampings: dampings), circleStates(512))
  }

  @Test(arguments: ButcherTableau.all.filter(\.isAdaptive))
  func sampleAloneEqualsSampleInBatch(_ method: ButcherTableau) throws {
    let (field, initial) = Self.batch()
    let times = [0.0, 0.3, 0.9, 1.5]
    let integrator = try adaptiveIntegrator(method, tolerance: method.order > 2 ? 1e-6 : 1e-4)
    let together = try integrator.solve(field, initialStates: initial, times: .shared(times))
    for s in [0, 17, 255, 511] {
      let alone = try integrator.solve(
        DampedRotationField(frequencies: [field.frequencies[s]], dampings: [field.dampings[s]]),
        initialStates: Tensor(shape: [1, 2], scalars: Array(initial.row(s))),
        times: .shared(times))
      for j in times.indices {
        #expect(
          alone.state(sample: 0, time: j).map(\.bitPattern)
            == together.state(sample: s, time: j).map(\.bitPattern))
      }
      #expect(alone.statistics.functionEvaluations[0] == together.statistics.functionEvaluations[s])
      #expect(alone.statistics.acceptedSteps[0] == together.statistics.acceptedSteps[s])
      #expect(alone.statistics.rejectedSteps[0] == together.statistics.rejectedSteps[s])
    }
  }

  @Test func reversedBatchOrderGivesTheSameBits() throws {
    let (field, initial) = Self.batch()
    let reversedField = DampedRotationField(
      frequencies: field.frequencies.reversed(), dampings: field.dampings.reversed())
    let reversedInitial = Tensor<Double>(
      shape: [512, 2], scalars: (0..<512).reversed().flatMap { Array(initial.row($0)) })
    let integrator = try adaptiveIntegrator(tolerance: 1e-7)
    let forward = try integrator.solve(field, initialStates: initial, times: .shared([0, 2]))
    let backward = try integrator.solve(
      reversedField, initialStates: reversedInitial, times: .shared([0, 2]))
    for s in 0..<512 {
      #expect(
        forward.state(sample: s, time: 1).map(\.bitPattern)
          == backward.state(sample: 511 - s, time: 1).map(\.bitPattern))
    }
  }

  @Test func hardSampleDoesNotChangeAnEasySample() throws {
    let initial = circleStates(2)
    let easyAlone = DampedRotationField<Double>(frequencies: [1])
    let withHardMate = DampedRotationField<Double>(frequencies: [1, 200])
    let integrator = try adaptiveIntegrator(tolerance: 1e-6)
    let alone = try integrator.solve(
      easyAlone, initialStates: Tensor(shape: [1, 2], scalars: Array(initial.row(0))),
      times: .shared([0, 3]))
    let mixed = try integrator.solve(withHardMate, initialStates: initial, times: .shared([0, 3]))
    #expect(mixed.statistics.functionEvaluations[1] > 10 * mixed.statistics.functionEvaluations[0])
    #expect(alone.statistics.functionEvaluations[0] == mixed.statistics.functionEvaluations[0])
    #expect(
      alone.finalStates.row(0).map(\.bitPattern) == mixed.finalStates.row(0).map(\.bitPattern))

    // With one step size for the batch (torchdiffeq's way) the easy sample pays for the hard one.
    let shared = try adaptiveIntegrator(tolerance: 1e-6, scope: .sharedAcrossBatch).solve(
      withHardMate, initialStates: initial, times: .shared([0, 3]))
    #expect(shared.statistics.functionEvaluations[0] == shared.statistics.functionEvaluations[1])
    #expect(shared.statistics.functionEvaluations[0] > 10 * alone.statistics.functionEvaluations[0])
  }

  @Test func sharedStepModeMatchesASingleSystem() throws {
    // Shared steps over a batch equal one solve of the batch flattened into one
    // state: the RMS norm over all elements is the same norm.
    let (field, initial) = Self.batch()
    let shared = try adaptiveIntegrator(tolerance: 1e-6, scope: .sharedAcrossBatch).solve(
      field, initialStates: initial, times: .shared([0, 1]))
    let flattened = ClosureField(dimension: 1024) { _, _, y, f in
      for s in 0..<512 {
        let omega = field.frequencies[s]
        let delta = field.dampings[s]
        f[2 * s] = -delta * y[2 * s] - omega * y[2 * s + 1]
        f[2 * s + 1] = omega * y[2 * s] - delta * y[2 * s + 1]
      }
    }
    let single = try adaptiveIntegrator(tolerance: 1e-6).solve(
      flattened, initialStates: initial.reshaped([1, 1024]), times: .shared([0, 1]))
    #expect(
      Set(shared.statistics.functionEvaluations) == [single.statistics.functionEvaluations[0]])
    #expect(Set(shared.statistics.acceptedSteps) == [single.statistics.acceptedSteps[0]])
    let difference = zip(shared.finalStates.scalars, single.finalStates.scalars).map {
      abs($0 - $1)
    }.max()!
    #expect(difference < 1e-12)
  }

  /// A shard of the batch, solved with the samples' identifiers in the full
  /// batch, gives those samples' bits: the field finds per-sample data by identifier.
  @Test func shardWithIdentifiersEqualsTheFullBatch() throws {
    let (field, initial) = Self.batch()
    let integrator = try adaptiveIntegrator(tolerance: 1e-6)
    let full = try integrator.solve(field, initialStates: initial, times: .shared([0, 1]))
    let picked = [300, 7, 511, 42]
    let shard = try integrator.solve(
      field,
      initialStates: Tensor(shape: [4, 2], scalars: picked.flatMap { Array(initial.row($0)) }),
      times: .shared([0, 1]), sampleIdentifiers: picked)
    for (i, s) in picked.enumerated() {
      #expect(
        shard.finalStates.row(i).map(\.bitPattern) == full.finalStates.row(s).map(\.bitPattern))
    }
    #expect(throws: SolverError.self) {
      try integrator.solve(
        field, initialStates: initial, times: .shared([0, 1]), sampleIdentifiers: [1])
    }
  }
}
