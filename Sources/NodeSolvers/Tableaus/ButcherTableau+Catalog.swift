// The methods node-dist ships. Coefficients are exact rationals where the
// method has them; dense-output polynomials were derived symbolically from
// the order conditions (fixed-step methods, Bogacki–Shampine: cubic Hermite)
// or taken from the method's authors (Dormand–Prince: Shampine's fourth-order
// interpolant, identical to Hairer's `contd5`; Tsitouras: the paper's own).

extension ButcherTableau {
  /// Forward Euler, order 1 (linear interpolation).
  public static let euler = ButcherTableau(
    name: "euler", nodes: [0], coupling: [[]], weights: [1],
    errorWeights: nil, order: 1, embeddedOrder: nil,
    interpolant: [[1]], interpolantOrder: 1)

  /// Explicit midpoint rule, order 2.
  public static let midpoint = ButcherTableau(
    name: "midpoint", nodes: [0, 0.5], coupling: [[], [0.5]], weights: [0, 1],
    errorWeights: nil, order: 2, embeddedOrder: nil,
    // b₁(θ) = θ − θ², b₂(θ) = θ²
    interpolant: [[1, -1], [0, 1]], interpolantOrder: 2)

  /// Heun's method (explicit trapezoidal rule), order 2.
  public static let heun = ButcherTableau(
    name: "heun", nodes: [0, 1], coupling: [[], [1]], weights: [0.5, 0.5],
    errorWeights: nil, order: 2, embeddedOrder: nil,
    // b₁(θ) = θ − θ²/2, b₂(θ) = θ²/2
    interpolant: [[1, -0.5], [0, 0.5]], interpolantOrder: 2)

  /// The classical fourth-order method in its 3/8-rule form (Kutta 1901), with a
  /// third-order continuous extension.
  public static let rk4 = ButcherTableau(
    name: "rk4", nodes: [0, 1.0 / 3, 2.0 / 3, 1],
    coupling: [[], [1.0 / 3], [-1.0 / 3, 1], [1, -1, 1]],
    weights: [0.125, 0.375, 0.375, 0.125],
    errorWeights: nil, order: 4, embeddedOrder: nil,
    interpolant: [[1, -15.0 / 8, 1], [0, 15.0 / 8, -1.5], [0, 3.0 / 8], [0, -3.0 / 8, 0.5]],
    interpolantOrder: 3)

  /// Heun–Euler 2(1): Heun's method with forward Euler as the error estimate.
  public static let heunEuler = ButcherTableau(
    name: "heun-euler", nodes: [0, 1], coupling: [[], [1]], weights: [0.5, 0.5],
    errorWeights: [-0.5, 0.5], order: 2, embeddedOrder: 1,
    interpolant: [[1, -0.5], [0, 0.5]], interpolantOrder: 2)

  /// Bogacki–Shampine 3(2) (FSAL), with the cubic Hermite interpolant.
  public static let bogackiShampine = ButcherTableau(
    name: "bosh3", nodes: [0, 0.5, 0.75, 1],
    coupling: [[], [0.5], [0, 0.75], [2.0 / 9, 1.0 / 3, 4.0 / 9]],
    weights: [2.0 / 9, 1.0 / 3, 4.0 / 9, 0],
    // b − b̂ with b̂ = (7/24, 1/4, 1/3, 1/8)
    errorWeights: [-5.0 / 72, 1.0 / 12, 1.0 / 9, -1.0 / 8], order: 3, embeddedOrder: 2,
    interpolant: [
      [1, -4.0 / 3, 5.0 / 9], [0, 1, -2.0 / 3], [0, 4.0 / 3, -8.0 / 9], [0, -1, 1],
    ],
    interpolantOrder: 3)

  /// Dormand–Prince 5(4) (FSAL), the default of torchdiffeq ("dopri5"),
  /// Diffrax and MATLAB's ode45, with Shampine's error weights (Shampine,
  /// "Some practical Runge–Kutta formulas", 1986) and fourth-order dense output.
  public static let dormandPrince = ButcherTableau(
    name: "dopri5", nodes: [0, 0.2, 0.3, 0.8, 8.0 / 9, 1, 1],
    coupling: [
      [],
      [0.2],
      [3.0 / 40, 9.0 / 40],
      [44.0 / 45, -56.0 / 15, 32.0 / 9],
      [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
      [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
      [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ],
    weights: [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0],
    // Shampine's error weights (as torchdiffeq, Diffrax and MATLAB's ode45 use):
    // b − b̂ with b̂ = (1951/21600, 0, 22642/50085, 451/720, −12231/42400, 649/6300, 1/60).
    errorWeights: [
      35.0 / 384 - 1951.0 / 21600, 0, 500.0 / 1113 - 22642.0 / 50085, 125.0 / 192 - 451.0 / 720,
      -2187.0 / 6784 + 12231.0 / 42400, 11.0 / 84 - 649.0 / 6300, -1.0 / 60,
    ],
    order: 5, embeddedOrder: 4,
    interpolant: [
      [
        1, -8048581381.0 / 2_820_520_608, 8663915743.0 / 2_820_520_608,
        -12715105075.0 / 11_282_082_432,
      ],
      [0],
      [
        0, 131558114200.0 / 32_700_410_799, -68118460800.0 / 10_900_136_933,
        87487479700.0 / 32_700_410_799,
      ],
      [
        0, -1754552775.0 / 470_086_768, 14199869525.0 / 1_410_260_304,
        -10690763975.0 / 1_880_347_072,
      ],
      [
        0, 127303824393.0 / 49_829_197_408, -318862633887.0 / 49_829_197_408,
        701980252875.0 / 199_316_789_632,
      ],
      [0, -282668133.0 / 205_662_961, 2019193451.0 / 616_988_883, -1453857185.0 / 822_651_844],
      [0, 40617522.0 / 29_380_423, -110615467.0 / 29_380_423, 69997945.0 / 29_380_423],
    ],
    interpolantOrder: 4)

  /// Tsitouras 5(4) (FSAL), "Runge–Kutta pairs of order 5(4) satisfying only the
  /// first column simplifying assumption" (2011), with its fourth-order interpolant.
  public static let tsitouras: ButcherTableau = {
    let weights: [Double] = [
      0.09646076681806522951816731316512876333711995238158, 0.01,
      0.4798896504144995747752495322905965199130404621990,
      1.379008574103741893192274821856872770756462643091,
      -3.290069515436080679901047585711363850115683290894,
      2.324710524099773982415355918398765796109060233223,
    ]
    return ButcherTableau(
      name: "tsit5",
      nodes: [0, 0.161, 0.327, 0.9, 0.9800255409045096857298102862870245954942, 1, 1],
      coupling: [
        [],
        [0.161],
        [
          -0.008480655492356988544426874250230774675121, 0.3354806554923569885444268742502307746751,
        ],
        [
          2.897153057105493432130432594192938764925, -6.359448489975074843148159912383825625953,
          4.362295432869581411017727318190886861028,
        ],
        [
          5.325864828439256604428877920840511317836, -11.74888356406282787774717033978577296189,
          7.495539342889836208304604784564358155659, -0.09249506636175524925650207933207191611350,
        ],
        [
          5.861455442946420028659251486982647890394, -12.92096931784710929170611868178335939542,
          8.159367898576158643180400794539253485182, -0.07158497328140099722453054252582973869127,
          -0.02826905039406838290900305721271224146718,
        ],
        weights,
      ],
      weights: weights + [0],
      errorWeights: [
        0.0017800110522257714434, 0.00081643445965674690322, -0.0078808780102619960103,
        0.14471100717326290754, -0.58235716545255522502, 0.45808210592918694666,
        -1.0 / 66,
      ],
      order: 5, embeddedOrder: 4,
      interpolant: [
        [1, -2.7637061972748259113, 2.9132554618219127438, -1.0530884977290216],
        [0, 0.1317, -0.2234, 0.1017],
        [0, 3.9302962368947515285, -5.9410338721315047347, 2.4906272856512527930],
        [0, -12.411077166933676984, 30.338188630282321598, -16.548102889244902720],
        [0, 37.509313416511039195, -88.178904894766401101, 47.379521962819281220],
        [0, -27.896526289197287806, 65.091894674793671526, -34.870657861496609740],
        [0, 1.5, -4, 2.5],
      ],
      interpolantOrder: 4)
  }()

  /// Every shipped method, fixed-step first.
  public static let all: [ButcherTableau] = [
    euler, midpoint, heun, rk4, heunEuler, bogackiShampine, dormandPrince, tsitouras,
  ]

  /// The shipped method with the given name (`euler`, `midpoint`, `heun`,
  /// `rk4`, `heun-euler`, `bosh3`, `dopri5`, `tsit5`), or nil.
  public static func named(_ name: String) -> ButcherTableau? {
    all.first { $0.name == name.lowercased() }
  }
}
