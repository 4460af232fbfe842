//! The one implementation of DataFusion's `AggregateUDFImpl` that every prefdb aggregate
//! shares. A family declares its functions ([`FunctionSpec`]) and supplies what differs: its
//! settings from the options, its state fields and its accumulators.
//!
//! Options are parsed once. When DataFusion simplifies the logical plan, the call's function
//! is replaced by a copy that carries the parsed settings; its accumulators reuse them. A
//! plan that reaches execution without that step (one decoded from another process) parses
//! the options literal of the physical call instead, with the same result.

use super::{FunctionSpec, Options, RowOrder};
use crate::memory::MemoryBudget;
use crate::options::{logical_string_literal, physical_string_literal};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{internal_err, plan_err, Result};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator, Signature,
    Volatility,
};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// What a family of aggregates supplies; [`PrefdbAggregate`] does the rest.
pub trait Family: Debug + Clone + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// A call's settings, from its options.
    type Config: Debug + Send + Sync + 'static;

    fn spec(&self) -> &'static FunctionSpec;

    /// The settings of a call from its parsed options; an error for combinations the
    /// declaration cannot express (two interval methods at once).
    fn configure(&self, options: &Options) -> Result<Self::Config>;

    /// The coerced argument types. By default, each argument by its declared type.
    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        self.spec().coerce(types)
    }

    /// Checks of the data arguments' (coerced) types that depend on the settings.
    fn check_types(&self, _config: &Self::Config, _data: &[DataType]) -> Result<()> {
        Ok(())
    }

    /// The type of the call's items in the output (`FieldType::Item`), from the data
    /// arguments' types. By default, the first argument's as an item.
    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        let spec = self.spec();
        match (spec.args.first(), data.first()) {
            (Some(arg), Some(t)) if arg.ty == super::ArgType::Item => {
                Ok(crate::items::ItemKind::of(spec.name, arg.name, t)?.output_type())
            }
            _ => Ok(DataType::Utf8),
        }
    }

    /// The partial state's fields, for a call with these argument fields.
    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>>;

    fn accumulator(&self, call: &Call<'_, Self::Config>) -> Result<Box<dyn Accumulator>>;

    /// Whether a call with these settings has a [`GroupsAccumulator`].
    fn grouped(&self, _config: &Self::Config) -> bool {
        false
    }

    fn groups_accumulator(
        &self,
        _call: &Call<'_, Self::Config>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        internal_err!("{}: no grouped accumulator", self.spec().name)
    }
}

/// One physical call, as an accumulator is made for it.
pub struct Call<'a, C> {
    pub config: &'a C,
    pub args: &'a AccumulatorArgs<'a>,
    /// How many of the arguments are data (the rest is the options literal).
    pub data: usize,
    pub budget: &'a MemoryBudget,
}

impl<C> Call<'_, C> {
    /// The type of data argument `i`.
    pub fn data_type(&self, i: usize) -> &DataType {
        self.args.expr_fields[i].data_type()
    }

    pub fn return_type(&self) -> DataType {
        self.args.return_field.data_type().clone()
    }
}

/// The settings a planned call carries, with the options text they came from.
#[derive(Debug)]
struct Planned<C> {
    options: Option<String>,
    config: Arc<C>,
}

impl<C> Clone for Planned<C> {
    fn clone(&self) -> Self {
        Self {
            options: self.options.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

/// A prefdb aggregate: a family's function with its declaration.
#[derive(Debug)]
pub struct PrefdbAggregate<F: Family> {
    family: F,
    signature: Signature,
    budget: MemoryBudget,
    planned: Option<Planned<F::Config>>,
}

impl<F: Family> Clone for PrefdbAggregate<F> {
    fn clone(&self) -> Self {
        Self {
            family: self.family.clone(),
            signature: self.signature.clone(),
            budget: self.budget.clone(),
            planned: self.planned.clone(),
        }
    }
}

impl<F: Family> PrefdbAggregate<F> {
    pub fn new(family: F, budget: &MemoryBudget) -> Self {
        Self {
            family,
            signature: Signature::user_defined(Volatility::Immutable),
            budget: budget.clone(),
            planned: None,
        }
    }

    pub fn udaf(family: F, budget: &MemoryBudget) -> AggregateUDF {
        AggregateUDF::from(Self::new(family, budget))
    }

    fn spec(&self) -> &'static FunctionSpec {
        self.family.spec()
    }

    /// The settings for `options`: the planned ones when they are for the same text.
    fn config(&self, options: Option<&str>) -> Result<Arc<F::Config>> {
        if let Some(p) = &self.planned {
            if p.options.as_deref() == options {
                return Ok(Arc::clone(&p.config));
            }
        }
        let parsed = Options::parse(self.spec(), options)?;
        Ok(Arc::new(self.family.configure(&parsed)?))
    }

    /// The data argument count, settings and checks of a physical call.
    fn prepare(&self, args: &AccumulatorArgs) -> Result<(usize, Arc<F::Config>)> {
        let spec = self.spec();
        check_call(spec, args.is_distinct, !args.order_bys.is_empty())?;
        let last = args
            .exprs
            .last()
            .and_then(|e| physical_string_literal(e, args.schema));
        let data = spec.split(args.exprs.len(), last.is_some())?;
        let options = if data < args.exprs.len() {
            last.flatten()
        } else {
            None
        };
        let config = self.config(options.as_deref())?;
        let types: Vec<DataType> = args.expr_fields[..data]
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        self.family.check_types(&config, &types)?;
        Ok((data, config))
    }

    fn with_call<T>(
        &self,
        args: &AccumulatorArgs,
        make: impl FnOnce(&Call<'_, F::Config>) -> Result<T>,
    ) -> Result<T> {
        let (data, config) = self.prepare(args)?;
        make(&Call {
            config: &config,
            args,
            data,
            budget: &self.budget,
        })
    }

    /// The planning of a logical call: its checks, and a copy of this function carrying
    /// the call's settings.
    fn plan(&self, call: AggregateFunction, info: &SimplifyContext) -> Result<Expr> {
        let spec = self.spec();
        check_call(spec, call.params.distinct, !call.params.order_by.is_empty())?;
        let args = &call.params.args;
        let last = args.last().and_then(logical_string_literal);
        let data = spec.split(args.len(), last.is_some())?;
        let options = if data < args.len() {
            last.flatten()
        } else {
            None
        };
        if let RowOrder::Sequence { model, example } = spec.row_order {
            if call.params.order_by.is_empty() {
                return Err(crate::ordered::no_order_error(spec.name, model, example));
            }
        }
        let planned_already = self.planned.as_ref().is_some_and(|p| p.options == options);
        if planned_already {
            return Ok(Expr::AggregateFunction(call));
        }
        let config = self.config(options.as_deref())?;
        let types = args[..data]
            .iter()
            .map(|a| info.get_data_type(a))
            .collect::<Result<Vec<_>>>()?;
        self.family.check_types(&config, &types)?;
        let planned = Self {
            planned: Some(Planned { options, config }),
            ..self.clone()
        };
        Ok(Expr::AggregateFunction(AggregateFunction {
            func: Arc::new(AggregateUDF::from(planned)),
            params: call.params,
        }))
    }
}

/// Refuse `DISTINCT`, and `ORDER BY` where it would be ignored. DataFusion hands both to
/// every aggregate and leaves honouring them to the function; `FILTER (WHERE ...)` is
/// applied before rows reach an accumulator, so every prefdb function honours it.
fn check_call(spec: &FunctionSpec, distinct: bool, ordered: bool) -> Result<()> {
    let function = spec.name;
    if distinct {
        return plan_err!(
            "{function} does not support DISTINCT: it counts every row it receives; \
             remove duplicates first, e.g. FROM (SELECT DISTINCT ...)"
        );
    }
    if ordered && spec.row_order == RowOrder::Ignored {
        return plan_err!(
            "{function} does not depend on the order of its rows, so ORDER BY inside the call \
             would be ignored; remove it"
        );
    }
    Ok(())
}

impl<F: Family> PartialEq for PrefdbAggregate<F> {
    fn eq(&self, other: &Self) -> bool {
        self.family == other.family
            && self.budget == other.budget
            && self.planned.as_ref().map(|p| &p.options)
                == other.planned.as_ref().map(|p| &p.options)
    }
}

impl<F: Family> Eq for PrefdbAggregate<F> {}

impl<F: Family> Hash for PrefdbAggregate<F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.family.hash(state);
        self.planned.as_ref().map(|p| &p.options).hash(state);
    }
}

impl<F: Family> AggregateUDFImpl for PrefdbAggregate<F> {
    fn name(&self) -> &str {
        self.spec().name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.family.coerce(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let data = arg_types.len().min(self.spec().args.len());
        let item = self.family.item_type(&arg_types[..data])?;
        let types = super::ItemTypes::of(self.spec(), item, &arg_types[..data])?;
        Ok(self.spec().output.data_type_for(&types))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.family.state_fields(args.name, args.input_fields)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.with_call(&args, |call| self.family.accumulator(call))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.prepare(&args)
            .is_ok_and(|(_, config)| self.family.grouped(&config))
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        self.with_call(&args, |call| self.family.groups_accumulator(call))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        match self.spec().row_order {
            RowOrder::Ignored => AggregateOrderSensitivity::Insensitive,
            // The accumulator sorts by the ORDER BY keys itself, so DataFusion need not.
            RowOrder::Sequence { .. } => AggregateOrderSensitivity::Beneficial,
        }
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        _beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        Ok(Some(self))
    }

    /// Checks the call and parses its options at planning time, so that a bad key or value
    /// is a planning error, and hands the parsed settings on to the accumulators.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        let me = self.clone();
        Some(Box::new(move |call, info| me.plan(call, info)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        documentation(self.spec())
    }
}

/// The documentation of a prefdb function, built once for all of them from their
/// declarations.
pub fn documentation(spec: &FunctionSpec) -> Option<&'static Documentation> {
    static DOCS: OnceLock<HashMap<&'static str, Documentation>> = OnceLock::new();
    DOCS.get_or_init(|| {
        super::all()
            .into_iter()
            .map(|s| (s.name, s.documentation()))
            .collect()
    })
    .get(spec.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::ScorerFunction;
    use datafusion::logical_expr::LogicalPlan;
    use datafusion::prelude::SessionContext;

    /// The aggregate functions of a plan's first Aggregate node.
    fn aggregate_functions(plan: &LogicalPlan) -> Vec<Arc<AggregateUDF>> {
        if let LogicalPlan::Aggregate(a) = plan {
            return a
                .aggr_expr
                .iter()
                .filter_map(|e| match e {
                    Expr::AggregateFunction(f) => Some(Arc::clone(&f.func)),
                    Expr::Alias(alias) => match alias.expr.as_ref() {
                        Expr::AggregateFunction(f) => Some(Arc::clone(&f.func)),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
        }
        plan.inputs()
            .into_iter()
            .flat_map(aggregate_functions)
            .collect()
    }

    #[tokio::test]
    async fn options_are_parsed_once_when_the_query_is_planned() {
        let ctx = SessionContext::new();
        crate::register_all(&ctx);
        let plan = ctx
            .sql(
                "SELECT ece(p, y, 'bins=4'), brier_score(p, y) \
                 FROM (VALUES (0.2, true), (0.7, false)) AS t(p, y)",
            )
            .await
            .unwrap()
            .into_optimized_plan()
            .unwrap();
        let functions = aggregate_functions(&plan);
        assert_eq!(functions.len(), 2);
        for f in functions {
            let any: &dyn std::any::Any = f.inner().as_ref();
            let planned = any
                .downcast_ref::<PrefdbAggregate<ScorerFunction>>()
                .expect("a prefdb aggregate")
                .planned
                .as_ref()
                .expect("settings carried from planning");
            if f.name() == "ece" {
                assert_eq!(planned.options.as_deref(), Some("bins=4"));
                assert_eq!(planned.config.bins, 4);
            } else {
                assert_eq!(planned.options, None);
            }
        }
    }
}
