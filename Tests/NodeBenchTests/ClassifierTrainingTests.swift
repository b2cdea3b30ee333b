import NodeCore
import NodeData
import NodeModels
import NodeTraining
import Testing

@testable import NodeBench

@Suite struct ClassifierTrainingTests {
  /// `count` 28×28 images of 10 classes: class `c` is a bright 7×7 square at
  /// one of ten places, over faint noise.
  static func squares(count: Int, seed: UInt64) throws -> ImageDataset {
    let random = CounterRandom(seed: seed)
    var pixels = [UInt8](repeating: 0, count: count * 784)
    var labels = [UInt8](repeating: 0, count: count)
    for s in 0..<count {
      let c = s % 10
      labels[s] = UInt8(c)
      let (top, left) = (2 + (c / 5) * 14, 1 + (c % 5) * 5)
      for i in 0..<784 {
        let noise: Float = random.uniform(stream: 1, index: UInt64(s * 784 + i))
        pixels[s * 784 + i] = UInt8(noise * 40)
      }
      for y in top..<(top + 7) {
        for x in left..<(left + 7) { pixels[s * 784 + y * 28 + x] = 230 }
      }
    }
    return try ImageDataset(images: pixels, labels: labels, height: 28, width: 28)
  }

  /// A small ResNet learns the squares: the loss falls epoch by epoch and the
  /// last epoch classifies the training images far above chance.
  @Test func resNetLearnsSeparableClasses() throws {
    let data = try Self.squares(count: 100, seed: 1)
    let model = ResNetClassifier<Float>(width: 4, blocks: 1)
    model.initializeParameters(seed: 2)
    var training = try ClassifierTraining(
      model: model, data: data, batchSize: 10, seed: 3,
      optimizer: SGD(parameterCount: model.parameterCount, learningRate: 0.1, momentum: 0.9))
    #expect(training.batchesPerEpoch == 10)
    var epochs: [EpochSummary] = []
    for epoch in 0..<14 { epochs.append(try training.trainEpoch(epoch)) }
    print(
      "ResNet on squares: losses \(epochs.map(\.meanLoss)), accuracy \(epochs.map(\.trainingAccuracy))"
    )
    #expect(epochs.last!.meanLoss < 0.5 * epochs.first!.meanLoss)
    let evaluation = try ClassifierEvaluation.evaluate(model, on: data, batchSize: 32)
    #expect(evaluation.samples == 100 && evaluation.meanEvaluations == nil)
    #expect(evaluation.accuracy > 0.5)
  }

  /// An ODE-Net reports its block's NFE per epoch; evaluation sees every
  /// image once, the last batch partial; the remainder of an epoch is dropped.
  @Test func odeNetReportsEvaluationsAndDropsTheRemainder() throws {
    let data = try Self.squares(count: 45, seed: 4)
    let model = try ODENetClassifier<Float>(width: 4)
    model.initializeParameters(seed: 5)
    var training = try ClassifierTraining(
      model: model, data: data, batchSize: 20, seed: 6,
      optimizer: SGD(parameterCount: model.parameterCount, learningRate: 0.1, momentum: 0.9))
    var updates = 0
    let epoch = try training.trainEpoch(0) { _, _ in updates += 1 }
    #expect(updates == 2 && epoch.batches == 2)
    #expect((epoch.forwardEvaluations ?? 0) >= 8 && (epoch.backwardEvaluations ?? 0) >= 8)
    #expect(epoch.maxForwardEvaluations >= Int(epoch.forwardEvaluations!))
    #expect(epoch.failedSamples == 0)
    let evaluation = try ClassifierEvaluation.evaluate(model, on: data, batchSize: 16, limit: 37)
    #expect(evaluation.samples == 37 && evaluation.meanEvaluations != nil)
    #expect(throws: ExperimentError.self) {
      _ = try ClassifierTraining(
        model: model, data: data, batchSize: 46, seed: 0,
        optimizer: SGD(parameterCount: model.parameterCount, learningRate: 0.1, momentum: 0.9))
    }
  }

  @Test func jsonLinesReadBack() throws {
    var line = JSONLine()
    line.add("model", "odenet \"x\"")
    line.add("accuracy", 0.8371, digits: 4)
    line.add("missing", Double.nan)
    let parsed = try JSONLine(parsing: line.description)
    #expect(parsed.string("model") == "odenet \"x\"")
    #expect(parsed.number("accuracy") == 0.8371)
    #expect(parsed.number("missing") == nil && parsed.string("accuracy") == nil)
    #expect(throws: JSONLine.ParseError.self) { _ = try JSONLine(parsing: "[1, 2]") }
  }
}
