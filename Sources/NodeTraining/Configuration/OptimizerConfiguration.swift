/// `optimizer:` and `lr_schedule:` — the update rule and its learning rate.
public struct OptimizerConfiguration: Sendable, Equatable {
  /// The optimizers.
  public enum Kind: String, Sendable, CaseIterable {
    case sgd, adam, adamw
  }
  /// The learning-rate shapes.
  public enum ScheduleKind: String, Sendable, CaseIterable {
    case constant, step, multistep, cosine
  }

  public var kind: Kind
  public var learningRate: Double
  /// SGD: momentum and Nesterov.
  public var momentum: Double
  public var nesterov: Bool
  /// SGD: L2 decay added to the gradient; AdamW: decoupled decay.
  public var weightDecay: Double
  /// Adam: `β₁, β₂` and `ε`.
  public var betas: [Double]
  public var epsilon: Double
  /// The schedule; a cosine without `total_steps` spans the whole run.
  public var schedule: ScheduleKind
  public var warmupSteps: Int
  public var stepEvery: Int
  public var factor: Double
  public var milestones: [Int]
  public var minimumRate: Double
  public var cosineSteps: Int?

  init(_ section: ConfigSection, schedule s: ConfigSection) throws {
    kind = try section.choice("kind", default: .adam)
    learningRate = try section.double("lr", default: 1e-3, minimum: 0, exclusiveMinimum: true)
    if kind == .sgd {
      momentum = try section.double("momentum", default: 0, minimum: 0, maximum: 1)
      nesterov = try section.bool("nesterov", default: false)
      if nesterov && momentum == 0 {
        throw ConfigError.invalidValue(
          key: "optimizer.nesterov", value: "true", allowed: "false unless optimizer.momentum > 0")
      }
      (betas, epsilon) = ([0.9, 0.999], 1e-8)
    } else {
      (momentum, nesterov) = (0, false)
      betas = try section.doubles("betas", default: [0.9, 0.999], minimum: 0, maximum: 1)
      guard betas.count == 2 && betas.allSatisfy({ $0 < 1 }) else {
        throw ConfigError.invalidValue(
          key: "optimizer.betas", value: "\(betas)", allowed: "two numbers in [0, 1)")
      }
      epsilon = try section.double("eps", default: 1e-8, minimum: 0, exclusiveMinimum: true)
    }
    weightDecay = try section.double("weight_decay", default: 0, minimum: 0)
    if kind == .adam && weightDecay != 0 {
      throw ConfigError.invalidValue(
        key: "optimizer.weight_decay", value: "\(weightDecay)",
        allowed: "0 with kind adam; use kind adamw for (decoupled) weight decay")
    }
    schedule = try s.choice("kind", default: .constant)
    warmupSteps = try s.int("warmup_steps", default: 0, range: 0...Int.max)
    (stepEvery, factor, milestones, minimumRate, cosineSteps) = (1, 1, [], 0, nil)
    switch schedule {
    case .constant:
      break
    case .step:
      stepEvery = try s.int("every", default: nil, range: 1...Int.max)
      factor = try s.double("factor", default: 0.1, minimum: 0, exclusiveMinimum: true)
    case .multistep:
      milestones = try s.ints("milestones", default: nil, range: 1...Int.max)
      guard milestones == milestones.sorted() else {
        throw ConfigError.invalidValue(
          key: "lr_schedule.milestones", value: "\(milestones)", allowed: "increasing steps")
      }
      factor = try s.double("factor", default: 0.1, minimum: 0, exclusiveMinimum: true)
    case .cosine:
      minimumRate = try s.double("min_lr", default: 0, minimum: 0)
      cosineSteps = try s.optionalInt("total_steps", range: 1...Int.max)
    }
  }

  /// The optimizer with zeroed state for `parameterCount` parameters.
  public func makeOptimizer(parameterCount: Int) -> Optimizer {
    switch kind {
    case .sgd:
      return .sgd(
        SGD(
          parameterCount: parameterCount, learningRate: Float(learningRate),
          momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(weightDecay)))
    case .adam, .adamw:
      var adam = Adam<Float>(parameterCount: parameterCount, learningRate: Float(learningRate))
      adam.beta1 = Float(betas[0])
      adam.beta2 = Float(betas[1])
      adam.epsilon = Float(epsilon)
      adam.weightDecay = Float(weightDecay)
      return .adam(adam)
    }
  }

  /// The learning-rate schedule of a run of `totalSteps` steps.
  public func makeSchedule(totalSteps: Int) -> LearningRateSchedule {
    let shape: LearningRateSchedule.Shape
    switch schedule {
    case .constant: shape = .constant
    case .step: shape = .step(every: stepEvery, factor: factor)
    case .multistep: shape = .milestones(milestones, factor: factor)
    case .cosine: shape = .cosine(totalSteps: cosineSteps ?? totalSteps, minimum: minimumRate)
    }
    return LearningRateSchedule(base: learningRate, shape: shape, warmupSteps: warmupSteps)
  }
}
