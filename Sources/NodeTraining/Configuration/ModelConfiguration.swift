import Foundation
import NodeData
import NodeModels
import NodeSensitivity

/// `model:` — which of the paper's models, and its size.
public struct ModelConfiguration: Sendable, Equatable {
  /// The model families.
  public enum Kind: String, Sendable, CaseIterable {
    /// A continuous normalizing flow on 2-D toy data (FFJORD's toy CNF, W1).
    case cnf
    /// The paper's ODE-Net classifier, trained by the adjoint.
    case odenet
    /// The same network trained by backprop through the solver (RK-Net).
    case rknet
    /// The paper's ResNet baseline.
    case resnet
    /// The paper's gated planar CNF, fitted to a target density by reverse KL
    /// (density matching, section 3.1).
    case planar
  }

  /// The config names of the CNF trace estimators.
  public enum Trace: String, Sendable, CaseIterable {
    case exact
    case hutchinsonGaussian = "hutchinson-gaussian"
    case hutchinsonRademacher = "hutchinson-rademacher"
  }

  public var kind: Kind
  /// Hidden units (CNF) or channels (classifiers).
  public var width: Int
  /// Stacked CNF blocks, or ResNet residual blocks.
  public var blocks: Int
  /// CNF: each block's integration time.
  public var endTime: Double
  /// CNF: the divergence estimator of training.
  public var trace: Trace
  /// CNF: how the training gradient flows through each block's solve — the
  /// backsolve adjoint (default), backprop through the solver's kept stages
  /// (faster at the cost of memory that grows with the steps), or the
  /// checkpointed adjoint.
  public var gradient: GradientMode
  /// CNF and ODE-Net: the backsolve adjoint's first backward step — chosen by
  /// Hairer's probe (`select`, default, as torchdiffeq and Diffrax do) or
  /// continued from the forward solve's last step proposal (`continue`).
  public var adjointFirstStep: AdjointFirstStep
  /// CNF: RNODE regulariser weights (kinetic energy, Jacobian Frobenius norm).
  public var kineticEnergy: Double
  public var jacobianFrobenius: Double
  /// The most steps a solve may take.
  public var maxSteps: Int
  /// Planar CNF: units `M` and the gate network's width `H`.
  public var units: Int
  public var gateWidth: Int
  /// A safetensors file of initial parameters in the model's tensor names
  /// (e.g. PyTorch's `w1-init.safetensors`), or nil for the seeded initialisation.
  public var weights: String?

  /// The widths `model.width` allows.
  public static let widthRange = 1...4096
  /// What a classifier's width must also be, and whether `width` is.
  public static let classifierWidthRule =
    "at most 32 or a multiple of 32 (GroupNorm uses min(32, width) groups)"
  public static func isClassifierWidth(_ width: Int) -> Bool { width <= 32 || width % 32 == 0 }
  /// The planar CNF's units `M` that `model.units` allows.
  public static let unitsRange = 1...100_000

  init(_ section: ConfigSection) throws {
    kind = try section.choice("kind", default: nil)
    let isCNF = kind == .cnf
    // Each kind reads only the keys it uses: any other is reported as unknown.
    width = kind == .planar ? 0 : try section.int("width", default: 64, range: Self.widthRange)
    if kind != .cnf && kind != .planar && !Self.isClassifierWidth(width) {
      throw ConfigError.invalidValue(
        key: "model.width", value: "\(width)", allowed: Self.classifierWidthRule)
    }
    blocks =
      isCNF || kind == .resnet
      ? try section.int("blocks", default: kind == .resnet ? 6 : 1, range: 1...64) : 1
    (units, gateWidth) = (0, 0)
    if kind == .planar {
      units = try section.int("units", default: 32, range: Self.unitsRange)
      gateWidth = try section.int("gate_width", default: 8, range: 1...100_000)
    }
    if isCNF || kind == .planar {
      endTime = try section.double(
        "end_time", default: isCNF ? 0.5 : 1, minimum: 0, exclusiveMinimum: true)
    } else {
      endTime = 1
    }
    if isCNF {
      trace = try section.choice("trace", default: .exact)
      gradient = try section.choice("gradient", default: .adjoint)
      kineticEnergy = try section.double("kinetic_energy", default: 0, minimum: 0)
      jacobianFrobenius = try section.double("jacobian_frobenius", default: 0, minimum: 0)
    } else {
      (trace, gradient, kineticEnergy, jacobianFrobenius) = (.exact, .adjoint, 0, 0)
    }
    // Read only where the backsolve adjoint runs: elsewhere the key would have no effect.
    adjointFirstStep =
      (isCNF || kind == .odenet) && gradient == .adjoint
      ? try section.choice("adjoint_first_step", default: .select) : .select
    maxSteps = isCNF ? try section.int("max_steps", default: 10_000, range: 1...10_000_000) : 10_000
    weights = try section.optionalString("weights")
    if let weights, !FileManager.default.isReadableFile(atPath: weights) {
      throw ConfigError.invalidValue(
        key: "model.weights", value: weights,
        allowed: "a readable safetensors file (a path relative to the working directory)")
    }
  }
}

/// `data:` — toy densities for CNFs, MNIST-format images for classifiers.
public struct DataConfiguration: Sendable, Equatable {
  /// The config names of the image sets.
  public enum ImageSet: String, Sendable, CaseIterable {
    case fashionMNIST = "fashion-mnist"
    case mnist
  }

  /// A toy density (CNF), or nil for images.
  public var density: ToyDensity?
  /// The target density (planar density matching), or nil.
  public var target: TargetDensity?
  /// The image set (classifiers), or nil.
  public var images: ImageSet?
  /// The directory of the IDX files.
  public var directory: String
  /// Training and held-out samples (images: the first that many; nil: all).
  public var trainSize: Int?
  public var testSize: Int?
  /// Toy data: the seed of the training set (the held-out set uses the next one).
  public var seed: UInt64

  /// The largest generated set: an epoch's order is an array of this many indices.
  public static let maximumSize = 100_000_000

  init(_ section: ConfigSection, model: ModelConfiguration) throws {
    target = nil
    if model.kind == .planar {
      let name = try section.string("name", default: "u1")
      do {
        target = try TargetDensity(name: name)
      } catch {
        throw ConfigError.invalidValue(
          key: "data.name", value: name, allowed: "one of \(TargetDensity.allowedNames)")
      }
      density = nil
      images = nil
      trainSize = try section.int("train_size", default: 1_000_000, range: 1...Self.maximumSize)
      testSize = try section.int("test_size", default: 5000, range: 1...Self.maximumSize)
      directory = ""
    } else if model.kind == .cnf {
      density = try section.choice("name", default: .moons)
      images = nil
      trainSize = try section.int("train_size", default: 100_000, range: 1...Self.maximumSize)
      testSize = try section.int("test_size", default: 5000, range: 1...Self.maximumSize)
      directory = ""
    } else {
      density = nil
      images = try section.choice("name", default: .fashionMNIST)
      directory = try section.string(
        "directory", default: ImageDataset.fashionMNISTDirectory)
      trainSize = try section.optionalInt("train_size", range: 1...Int.max)
      testSize = try section.optionalInt("test_size", range: 1...Int.max)
    }
    seed =
      model.kind == .cnf ? UInt64(try section.int("seed", default: 0, range: 0...Int.max - 1)) : 0
  }
}
