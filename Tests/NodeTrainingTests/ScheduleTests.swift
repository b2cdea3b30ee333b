import Testing

@testable import NodeTraining

/// Learning-rate and tolerance schedules against values worked by hand.
@Suite struct ScheduleTests {
  @Test func learningRateShapesAndWarmup() {
    let step = LearningRateSchedule(base: 1, shape: .step(every: 10, factor: 0.5))
    #expect(
      step.rate(atStep: 9) == 1 && step.rate(atStep: 10) == 0.5 && step.rate(atStep: 25) == 0.25)
    let milestones = LearningRateSchedule(base: 1, shape: .milestones([3, 5], factor: 0.1))
    #expect(milestones.rate(atStep: 2) == 1 && abs(milestones.rate(atStep: 5) - 0.01) < 1e-15)
    let cosine = LearningRateSchedule(base: 1, shape: .cosine(totalSteps: 100, minimum: 0.1))
    #expect(cosine.rate(atStep: 0) == 1 && abs(cosine.rate(atStep: 50) - 0.55) < 1e-12)
    #expect(
      abs(cosine.rate(atStep: 100) - 0.1) < 1e-12 && abs(cosine.rate(atStep: 500) - 0.1) < 1e-12)
    let warm = LearningRateSchedule(base: 2, warmupSteps: 4)
    #expect(warm.rate(atStep: 0) == 0.5 && warm.rate(atStep: 3) == 2 && warm.rate(atStep: 9) == 2)
  }

  @Test func piecewiseAndGeometricTolerances() {
    let a = Tolerance(relative: 1e-3, absolute: 1e-4)
    let b = Tolerance(relative: 1e-5, absolute: 1e-6)
    let piecewise = ToleranceSchedule(.piecewise(unit: .epoch, boundaries: [2], values: [a, b]))
    #expect(
      piecewise.tolerance(step: 99, epoch: 1) == a && piecewise.tolerance(step: 0, epoch: 2) == b)
    let geometric = ToleranceSchedule(.geometric(unit: .step, start: a, end: b, length: 4))
    let middle = geometric.tolerance(step: 2, epoch: 0)
    #expect(abs(middle.relative - 1e-4) < 1e-16 && abs(middle.absolute - 1e-5) < 1e-17)
    #expect(geometric.tolerance(step: 40, epoch: 0) == geometric.tolerance(step: 4, epoch: 0))
  }

  @Test func adaptiveToleranceMovesTowardTheTargetWithinBounds() {
    var schedule = ToleranceSchedule(
      .adaptive(
        AdaptiveTolerance(
          initial: Tolerance(relative: 1e-4, absolute: 1e-5), target: 20, band: 0.1, factor: 2,
          tightest: 1e-6, loosest: 1e-3)))
    schedule.observe(meanEvaluations: 40)  // too many evaluations: loosen
    #expect(schedule.tolerance(step: 0, epoch: 0) == Tolerance(relative: 2e-4, absolute: 2e-5))
    schedule.observe(meanEvaluations: 21)  // within the band: keep
    #expect(schedule.tolerance(step: 0, epoch: 0).relative == 2e-4)
    for _ in 0..<10 { schedule.observe(meanEvaluations: 5) }  // too few: tighten to the bound
    #expect(schedule.tolerance(step: 0, epoch: 0).relative == 1e-6)
    schedule.observe(meanEvaluations: .nan)
    #expect(schedule.tolerance(step: 0, epoch: 0).relative == 1e-6)
  }
}
