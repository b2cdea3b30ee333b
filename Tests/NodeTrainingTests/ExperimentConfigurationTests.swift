import Foundation
import Testing

@testable import NodeTraining

/// Experiment files: every shipped config decodes; mistakes name the key,
/// the value and what is allowed.
@Suite struct ExperimentConfigurationTests {
  static let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("configs")

  static func message(_ yaml: String, _ overrides: [String] = []) -> String {
    do {
      _ = try ExperimentConfiguration(yaml: yaml, overrides: overrides)
      return "accepted"
    } catch {
      return "\(error)"
    }
  }

  @Test func everyShippedConfigDecodes() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: Self.configs.path)
      .filter { $0.hasSuffix(".yaml") }
    #expect(files.count >= 8)
    for file in files {
      _ = try ExperimentConfiguration(contentsOf: Self.configs.appendingPathComponent(file))
    }
  }

  @Test func decodesTheMoonsConfig() throws {
    let experiment = try ExperimentConfiguration(
      contentsOf: Self.configs.appendingPathComponent("cnf-moons.yaml"),
      overrides: ["optimizer.lr=3e-4", "tolerance.evaluation.rtol=1e-3"])
    #expect(experiment.model.kind == .cnf && experiment.data.density == .moons)
    #expect(experiment.train.batchSize == 512 && experiment.train.chunks == 8)
    #expect(experiment.optimizer.learningRate == 3e-4)
    let values = experiment.tolerances.values(step: 0, epoch: 0)
    #expect(values.forward == Tolerance(relative: 1e-5, absolute: 1e-5))
    #expect(values.evaluation.relative == 1e-3)
    #expect(experiment.resolvedYAML.contains("0.0003") || experiment.resolvedYAML.contains("3e-4"))
  }

  @Test func mistakesNameTheKeyTheValueAndWhatIsAllowed() {
    #expect(Self.message("model: {kind: cfn}").contains("model.kind"))
    #expect(Self.message("model: {kind: cfn}").contains("cnf"))
    #expect(Self.message("model: {kind: cnf, widht: 3}").contains("widht"))
    #expect(
      Self.message("model: {kind: cnf}\ntrain: {batch_size: 10, chunks: 3}").contains(
        "a divisor of train.batch_size = 10"))
    #expect(
      Self.message("model: {kind: cnf}\ntrain: {steps: 5, epochs: 1}").contains(
        "one of the two"))
    #expect(
      Self.message("model: {kind: cnf}\noptimizer: {kind: adam, weight_decay: 0.1}")
        .contains("adamw"))
    #expect(Self.message("model: {kind: cnf}\noptimizer: {lr: -1}").contains("optimizer.lr"))
    #expect(
      Self.message(
        "model: {kind: cnf}\ntolerance: {forward: {kind: piecewise, boundaries: [5], rtol: [1e-3]}}"
      ).contains("one more value than boundaries"))
    #expect(Self.message("model: {kind: cnf}", ["data.nmae=moons"]).contains("nmae"))
    #expect(Self.message("model: {kind: planar}\ndata: {name: u9}").contains("u1, u2"))
    let firstStep = Self.message("model: {kind: cnf, adjoint_first_step: probe}")
    #expect(
      firstStep.contains("model.adjoint_first_step") && firstStep.contains("select, continue"))
  }

  /// The adjoint's first step: Hairer's probe by default, continued on request,
  /// for the kinds trained by the adjoint only.
  @Test func adjointFirstStepDecodes() throws {
    let cnf = try ExperimentConfiguration(yaml: "model: {kind: cnf}")
    #expect(cnf.model.adjointFirstStep == .select)
    let continuing = try ExperimentConfiguration(
      yaml: "model: {kind: cnf, adjoint_first_step: continue}")
    let task = try #require(try continuing.makeTask() as? DensityTask)
    #expect(task.flow.solver.adjointFirstStep == .continueForward)
    let odenet = try ExperimentConfiguration(
      yaml: "model: {kind: odenet, adjoint_first_step: continue}")
    #expect(odenet.model.adjointFirstStep == .continueForward)
    #expect(
      Self.message("model: {kind: resnet, adjoint_first_step: select}").contains(
        "adjoint_first_step"))
    // Without the backsolve adjoint the key would change nothing: unknown there.
    #expect(
      Self.message("model: {kind: cnf, gradient: backprop, adjoint_first_step: continue}")
        .contains("adjoint_first_step"))
  }

  @Test func toleranceKindsDecode() throws {
    let experiment = try ExperimentConfiguration(
      yaml: """
        model: {kind: cnf}
        tolerance:
          forward: {kind: geometric, unit: step, length: 10, rtol: [1e-3, 1e-5]}
          adjoint: {kind: piecewise, unit: epoch, boundaries: [2], rtol: [1e-4, 1e-6], atol: [1e-5, 1e-7]}
          evaluation: {kind: adaptive, rtol: 1e-3, target_nfe: 20}
        """)
    let start = experiment.tolerances.values(step: 0, epoch: 0)
    let later = experiment.tolerances.values(step: 10, epoch: 3)
    #expect(start.forward.relative == 1e-3 && abs(later.forward.relative - 1e-5) < 1e-18)
    #expect(start.adjoint.absolute == 1e-5 && later.adjoint.absolute == 1e-7)
    #expect(start.evaluation.relative == 1e-3)
  }
}

/// Keys that depend on the model kind, defaults that adapt, and resume checks.
@Suite struct ExperimentConfigurationKindTests {
  @Test func keysAModelKindDoesNotUseAreUnknown() {
    let message = { (yaml: String) in ExperimentConfigurationTests.message(yaml) }
    #expect(message("model: {kind: odenet, max_steps: 10}").contains("max_steps"))
    #expect(message("model: {kind: planar, width: 10}").contains("width"))
    #expect(message("model: {kind: resnet}\ndata: {seed: 3}").contains("seed"))
    #expect(message("model: {kind: odenet, width: 48}").contains("multiple of 32"))
    #expect(message("model: {kind: cnf}\ntolerance: {forwrd: {rtol: 1e-3}}").contains("forward"))
  }

  @Test func defaultChunksDivideTheBatch() throws {
    let experiment = try ExperimentConfiguration(
      yaml: "model: {kind: cnf}\ntrain: {batch_size: 100}")
    #expect(experiment.train.chunks == 5)
    let nullSchedule = try ExperimentConfiguration(
      yaml: "model: {kind: cnf}\ntolerance: {forward: {rtol: 1e-3}, adjoint: null}")
    #expect(nullSchedule.tolerances.values(step: 0, epoch: 0).adjoint.relative == 1e-3)
  }

  @Test func resumeAcceptsNewOptimizerSettingsButNotAnotherModel() throws {
    let base = "model: {kind: cnf, width: 8}\ntrain: {batch_size: 16, chunks: 2}\n"
    let stored = try ExperimentConfiguration(yaml: base).resolvedYAML
    try ExperimentConfiguration(
      yaml: base + "optimizer: {lr: 1.0e-4}", overrides: ["train.steps=9"]
    )
    .checkResumable(from: stored)
    #expect(throws: TrainingError.self) {
      try ExperimentConfiguration(yaml: base, overrides: ["model.width=16"])
        .checkResumable(from: stored)
    }
    #expect(throws: TrainingError.self) {
      try ExperimentConfiguration(yaml: base, overrides: ["train.seed=4"])
        .checkResumable(from: stored)
    }
  }
}
