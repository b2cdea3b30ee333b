import Foundation
import NodeBench
import NodeCore
import Testing

@Suite struct W1WorkloadTests {
  /// Training iterations run end to end from the bundled initial weights:
  /// finite loss near the reference's starting 3.89 nats, both passes
  /// succeed, and Adam moves the parameters.
  @Test func iterationsTrain() throws {
    let url = try #require(W1Workload.bundledInitialWeightsURL)
    let w1 = try W1Workload(weights: url, batchSize: 64)
    let before = w1.field.parameters
    let first = try w1.step()
    let second = try w1.step()
    for step in [first, second] {
      #expect(step.loss.isFinite && step.loss > 2 && step.loss < 6)
      #expect(step.forward.allSucceeded && step.backward.allSucceeded)
      #expect(step.forward.meanFunctionEvaluations > 0 && step.backward.meanFunctionEvaluations > 0)
    }
    #expect(w1.field.parameters != before)
  }
}
