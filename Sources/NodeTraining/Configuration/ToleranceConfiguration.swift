/// `tolerance:` — the forward, adjoint and evaluation schedules.
///
///     tolerance:
///       forward: {kind: constant, rtol: 1e-5, atol: 1e-5}
///       adjoint: {kind: geometric, unit: epoch, length: 10, rtol: [1e-3, 1e-5], atol: [1e-3, 1e-5]}
///       evaluation: {kind: adaptive, rtol: 1e-3, atol: 1e-3, target_nfe: 26}
///
/// `adjoint` and `evaluation` default to `forward`; `forward` defaults to
/// `rtol = atol = 1e-5`. Kinds: `constant` (`rtol`, `atol`), `piecewise`
/// (`unit`, `boundaries`, `rtol` and `atol` lists one longer),
/// `geometric` (`unit`, `length`, `rtol` and `atol` as `[start, end]`),
/// `adaptive` (`rtol`, `atol` to start, `target_nfe` per sample, `band`,
/// `factor`, `min_rtol`, `max_rtol`).
enum ToleranceConfiguration {
  /// The kinds.
  enum Kind: String, CaseIterable {
    case constant, piecewise, geometric, adaptive
  }

  static func schedules(_ section: ConfigSection) throws -> SolverTolerances {
    // A missing (or null) schedule is an empty section: the default.
    func schedule(_ key: String, default fallback: ToleranceSchedule) throws -> ToleranceSchedule {
      let s = try section.section(key)
      return s.keys.isEmpty ? fallback : try Self.schedule(s)
    }
    let forward = try schedule(
      "forward", default: .constant(Tolerance(relative: 1e-5, absolute: 1e-5)))
    return SolverTolerances(
      forward: forward, adjoint: try schedule("adjoint", default: forward),
      evaluation: try schedule("evaluation", default: forward))
  }

  static func schedule(_ s: ConfigSection) throws -> ToleranceSchedule {
    let kind: Kind = try s.choice("kind", default: .constant)
    switch kind {
    case .constant:
      let rtol = try s.double("rtol", default: nil, minimum: 0, exclusiveMinimum: true)
      let atol = try s.double("atol", default: rtol, minimum: 0, exclusiveMinimum: true)
      return .constant(Tolerance(relative: rtol, absolute: atol))
    case .piecewise:
      let unit: ScheduleUnit = try s.choice("unit", default: .epoch)
      let boundaries = try s.ints("boundaries", default: nil, range: 1...Int.max)
      let rtols = try s.doubles("rtol", default: nil, minimum: 0, exclusiveMinimum: true)
      let atols = try s.doubles("atol", default: rtols, minimum: 0, exclusiveMinimum: true)
      guard boundaries == boundaries.sorted() && Set(boundaries).count == boundaries.count else {
        throw ConfigError.invalidValue(
          key: s.path + ".boundaries", value: "\(boundaries)", allowed: "strictly increasing")
      }
      guard rtols.count == boundaries.count + 1 && atols.count == rtols.count else {
        throw ConfigError.invalidValue(
          key: s.path + ".rtol / atol", value: "\(rtols.count) / \(atols.count) values",
          allowed: "one more value than boundaries (\(boundaries.count + 1))")
      }
      return ToleranceSchedule(
        .piecewise(
          unit: unit, boundaries: boundaries,
          values: zip(rtols, atols).map { Tolerance(relative: $0, absolute: $1) }))
    case .geometric:
      let unit: ScheduleUnit = try s.choice("unit", default: .epoch)
      let length = try s.int("length", default: nil, range: 1...Int.max)
      let rtols = try s.doubles("rtol", default: nil, minimum: 0, exclusiveMinimum: true)
      let atols = try s.doubles("atol", default: rtols, minimum: 0, exclusiveMinimum: true)
      guard rtols.count == 2 && atols.count == 2 else {
        throw ConfigError.invalidValue(
          key: s.path + ".rtol / atol", value: "\(rtols) / \(atols)", allowed: "[start, end] each")
      }
      return ToleranceSchedule(
        .geometric(
          unit: unit, start: Tolerance(relative: rtols[0], absolute: atols[0]),
          end: Tolerance(relative: rtols[1], absolute: atols[1]), length: length))
    case .adaptive:
      let rtol = try s.double("rtol", default: nil, minimum: 0, exclusiveMinimum: true)
      let atol = try s.double("atol", default: rtol, minimum: 0, exclusiveMinimum: true)
      let target = try s.double("target_nfe", default: nil, minimum: 0, exclusiveMinimum: true)
      let band = try s.double("band", default: 0.1, minimum: 0, maximum: 1)
      let factor = try s.double("factor", default: 1.25, minimum: 1, exclusiveMinimum: true)
      let tightest = try s.double("min_rtol", default: 1e-8, minimum: 0, exclusiveMinimum: true)
      let loosest = try s.double("max_rtol", default: 1e-1, minimum: tightest)
      return ToleranceSchedule(
        .adaptive(
          AdaptiveTolerance(
            initial: Tolerance(relative: rtol, absolute: atol), target: target, band: band,
            factor: factor, tightest: tightest, loosest: loosest)))
    }
  }
}
