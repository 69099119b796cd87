//! `#[channel("address", name = "…", description = "…", crate = path)]`.
//!
//! Leaves the function as written (minus `#[header]` attributes and doc comments on parameters)
//! and adds a hidden unit struct `__channel_<fn>` implementing `asyncfast::Handler`, registered
//! with `inventory`. Its `ChannelMeta` also wires the documentation: each parameter's
//! `FromMessage::document`, the return type's `DescribeOutcome`, the `sends = [...]` list and
//! the crate's Cargo package.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Token, Type};

use crate::attrs::{
    ALIAS, CHANNEL_OPTIONS, CRATE, DEFAULT, DESCRIPTION, Errors, HEADER, HEADER_OPTIONS,
    HEADER_TYPE, NAME, PARAM_TYPE, PAYLOAD_TYPE, SENDS, contains_impl, default_crate, doc_comment,
    generic_argument, header_name, one_of, plain_name, respan, template_error, unknown_option,
    value_schema,
};
use crate::template;

/// The attribute's arguments.
#[derive(Default)]
struct Args {
    address: Option<LitStr>,
    name: Option<LitStr>,
    description: Option<LitStr>,
    sends: Vec<Type>,
    krate: Option<Path>,
}

fn parse_args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let parser = |input: ParseStream<'_>| {
        if input.peek(LitStr) {
            args.address = Some(input.parse()?);
        } else if !(input.is_empty() || input.peek(Ident::peek_any) && input.peek2(Token![=])) {
            let bad: TokenStream = input.parse()?;
            errors.error(
                bad.span(),
                "expected the address as a string literal\n\n= help: write \
                 `#[channel(\"user.created\")]`",
            );
            return Ok(());
        }
        while !input.is_empty() {
            if args.address.is_some() || !input.peek(Ident::peek_any) {
                input.parse::<Token![,]>()?;
                if input.is_empty() {
                    break;
                }
            }
            let key = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                NAME => args.name = Some(input.parse()?),
                DESCRIPTION => args.description = Some(input.parse()?),
                SENDS => {
                    let content;
                    syn::bracketed!(content in input);
                    let types = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
                    args.sends.extend(types);
                }
                CRATE => args.krate = Some(input.call(Path::parse_mod_style)?),
                other => {
                    input.parse::<Expr>()?;
                    errors.error(
                        key.span(),
                        format!(
                            "unknown `#[channel]` option `{other}`\n\n= help: the options are {}",
                            one_of(CHANNEL_OPTIONS)
                        ),
                    );
                }
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

/// What the macro recognizes about a parameter's type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Payload,
    Header,
    Param,
    Other,
}

fn kind_of(ty: &Type) -> Kind {
    let Type::Path(path) = ty else {
        return Kind::Other;
    };
    match path
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .as_deref()
    {
        Some(PAYLOAD_TYPE) => Kind::Payload,
        Some(HEADER_TYPE) => Kind::Header,
        Some(PARAM_TYPE) => Kind::Param,
        _ => Kind::Other,
    }
}

/// One handler parameter.
struct Param {
    name: Option<Ident>,
    span: Span,
    ty: Type,
    kind: Kind,
    alias: Option<LitStr>,
    default: Option<Expr>,
    /// `#[header(description = "…")]`, or the parameter's doc comment.
    description: Option<String>,
}

fn parse_header_attr(attr: &syn::Attribute, param: &mut Param, errors: &mut Errors) {
    if param.kind != Kind::Header {
        errors.error(
            attr.path().span(),
            "`#[header]` applies to `Header<T>` parameters\n\n= help: remove it, or make the \
             parameter a `Header<T>`",
        );
        return;
    }
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return;
    }
    let result = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident(ALIAS) {
            param.alias = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident(DEFAULT) {
            param.default = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident(DESCRIPTION) {
            param.description = Some(meta.value()?.parse::<LitStr>()?.value());
        } else {
            return Err(unknown_option(&meta, HEADER, HEADER_OPTIONS));
        }
        Ok(())
    });
    if let Err(error) = result {
        errors.push(error);
    }
}

fn parse_params(function: &mut ItemFn, errors: &mut Errors) -> Vec<Param> {
    let mut params = Vec::new();
    for input in &mut function.sig.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                errors.error(
                    receiver.span(),
                    "a `#[channel]` handler is a free function; it cannot take `self`",
                );
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let name = match &*typed.pat {
            Pat::Ident(ident) => Some(ident.ident.unraw()),
            _ => None,
        };
        let mut param = Param {
            name,
            span: typed.pat.span(),
            ty: (*typed.ty).clone(),
            kind: kind_of(&typed.ty),
            alias: None,
            default: None,
            description: None,
        };
        if let Type::Reference(reference) = &*typed.ty {
            errors.error(
                reference.span(),
                "handler parameters are owned extractors, not references\n\n= help: remove the \
                 `&`",
            );
        }
        if let Type::ImplTrait(bound) = &*typed.ty {
            errors.error(
                bound.span(),
                "handler parameters have concrete types\n\n= help: name the extractor type",
            );
        }
        // Doc comments on parameters describe them in the AsyncAPI document; Rust does not
        // allow them there, so they are taken out with `#[header]`.
        let documentation = doc_comment(&typed.attrs);
        typed.attrs.retain(|attr| {
            if attr.path().is_ident(HEADER) {
                parse_header_attr(attr, &mut param, errors);
                false
            } else {
                !attr.path().is_ident("doc")
            }
        });
        if param.description.is_none() {
            param.description = documentation;
        }
        if param.kind == Kind::Header && param.name.is_none() && param.alias.is_none() {
            errors.error(
                param.span,
                "a `Header` parameter needs a plain name, which names the header\n\n= help: \
                 write `name: Header<T>`, or give the header's name with \
                 `#[header(alias = \"…\")]`",
            );
        }
        if param.kind == Kind::Param && param.name.is_none() {
            errors.error(
                param.span,
                "a `Param` parameter needs a plain name, which names its address placeholder",
            );
        }
        params.push(param);
    }
    params
}

/// Checks the template against the parameters; returns each parameter's placeholder index.
fn check_template(
    address: &LitStr,
    function: &Ident,
    params: &[Param],
    errors: &mut Errors,
) -> Vec<Option<usize>> {
    let value = address.value();
    let template = match template::parse(&value) {
        Ok(template) => template,
        Err(error) => {
            errors.push(template_error(address.span(), &value, &error));
            return vec![None; params.len()];
        }
    };
    let param_named = |name: &str| {
        params.iter().any(|p| {
            p.kind == Kind::Param
                && p.name
                    .as_ref()
                    .is_some_and(|n| plain_name(&n.to_string()) == name)
        })
    };
    for placeholder in template.placeholders() {
        if !param_named(placeholder) {
            errors.error(
                address.span(),
                format!(
                    "address placeholder `{{{placeholder}}}` has no matching parameter\n\n= help: \
                     add a parameter `{placeholder}: Param<T>` to `{function}`"
                ),
            );
        }
    }
    params
        .iter()
        .map(|param| {
            if param.kind != Kind::Param {
                return None;
            }
            let name = plain_name(&param.name.as_ref()?.to_string()).to_owned();
            let index = template.placeholder_index(&name);
            if index.is_none() {
                errors.error(
                    param.span,
                    format!(
                        "parameter `{name}` is a `Param`, but the address has no placeholder \
                         `{{{name}}}`\n\n= help: add `{{{name}}}` to the address, or take the \
                         value from another extractor"
                    ),
                );
                errors.error(
                    address.span(),
                    format!("the address `{value}` has no placeholder `{{{name}}}`"),
                );
            }
            index
        })
        .collect()
}

fn check_payloads(params: &[Param], errors: &mut Errors) {
    let mut payloads = params.iter().filter(|p| p.kind == Kind::Payload);
    let Some(first) = payloads.next() else {
        return;
    };
    let first_name = first
        .name
        .as_ref()
        .map_or_else(|| "the first one".to_owned(), |n| format!("`{n}`"));
    for extra in payloads {
        errors.error(
            extra.ty.span(),
            format!(
                "a handler takes at most one `Payload` parameter; {first_name} already takes the \
                 payload\n\n= help: decode the payload into one type that holds both"
            ),
        );
    }
}

fn check_signature(function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.error(
            sig.generics.span(),
            "a `#[channel]` handler cannot be generic\n\n= help: write a concrete handler that \
             calls the generic function",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(variadic.span(), "a `#[channel]` handler cannot be variadic");
    }
}

/// Expands `#[channel]`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function: ItemFn = match syn::parse2(item) {
        Ok(function) => function,
        Err(error) => {
            return syn::Error::new(
                error.span(),
                "`#[channel]` applies to functions: `async fn handler(...)`",
            )
            .to_compile_error();
        }
    };
    let mut errors = Errors::default();
    let args = parse_args(args, &mut errors);
    check_signature(&function, &mut errors);
    let params = parse_params(&mut function, &mut errors);
    check_payloads(&params, &mut errors);
    let ident = function.sig.ident.clone();
    let placeholders = if let Some(address) = &args.address {
        check_template(address, &ident, &params, &mut errors)
    } else {
        let options = args.krate.is_some()
            || args.name.is_some()
            || args.description.is_some()
            || !args.sends.is_empty();
        errors.error(
            ident.span(),
            if options {
                "`#[channel]` needs an address first\n\n= help: write \
                 `#[channel(\"user.created\", …)]`"
            } else {
                "`#[channel]` needs an address\n\n= help: write `#[channel(\"user.created\")]`"
            },
        );
        Vec::new()
    };
    match errors.finish() {
        Ok(()) => generate(&function, &args, &params, &placeholders),
        Err(error) => {
            // Keep the function, so that the only errors are ours.
            let error = error.to_compile_error();
            quote!(#function #error)
        }
    }
}

fn param_spec(
    krate: &Path,
    index: usize,
    param: &Param,
    placeholder: Option<usize>,
    default_fn: Option<&Ident>,
    schema_fn: Option<&Ident>,
) -> TokenStream {
    let name = param
        .name
        .as_ref()
        .map_or_else(|| format!("_{index}"), ToString::to_string);
    let ty = &param.ty;
    let mut spec = quote!(#krate::__private::ParamSpec::new(#name, #index));
    if param.kind == Kind::Header {
        let header = param
            .alias
            .as_ref()
            .map_or_else(|| header_name(&name), LitStr::value);
        spec = quote!(#spec.header_name(#header));
    }
    if let Some(placeholder) = placeholder {
        spec = quote!(#spec.placeholder(#placeholder));
    }
    if let Some(default_fn) = default_fn {
        spec = quote!(#spec.default_value(#default_fn));
    }
    if let Some(description) = &param.description {
        spec = quote!(#spec.description(#description));
    }
    if let Some(schema_fn) = schema_fn {
        spec = quote!(#spec.value_schema(#schema_fn));
    }
    let prepare = respan(
        quote!(<#ty as #krate::extract::FromMessage>::prepare),
        ty.span(),
    );
    let document = respan(
        quote!(<#ty as #krate::extract::FromMessage>::document),
        ty.span(),
    );
    quote!(#spec.prepare_with(#prepare).document_with(#document))
}

/// The per-parameter pieces of the expansion.
struct Wiring {
    /// Header defaults and value schemas, as functions.
    defaults: Vec<TokenStream>,
    specs: Vec<TokenStream>,
    extractions: Vec<TokenStream>,
    arguments: Vec<Ident>,
}

fn wiring(krate: &Path, params: &[Param], placeholders: &[Option<usize>]) -> Wiring {
    let mut wiring = Wiring {
        defaults: Vec::new(),
        specs: Vec::new(),
        extractions: Vec::new(),
        arguments: Vec::new(),
    };
    for (index, param) in params.iter().enumerate() {
        let ty = &param.ty;
        let default_fn = param.default.as_ref().map(|expr| {
            let default_fn = format_ident!("__asyncfast_default_{}", index);
            let value = respan(
                quote!(<#ty as #krate::__private::HeaderParam>::Value),
                ty.span(),
            );
            wiring.defaults.push(quote! {
                fn #default_fn() -> ::std::boxed::Box<dyn ::std::any::Any + ::std::marker::Send> {
                    #krate::__private::header_default::<#value>(#expr)
                }
            });
            default_fn
        });
        // `Param<T>`: the schema of `T`, for the channel parameter.
        let schema_fn = match (param.kind, generic_argument(ty)) {
            (Kind::Param, Some(inner)) => {
                let schema_fn = format_ident!("__asyncfast_schema_{}", index);
                let generator = quote!(generator);
                let schema = value_schema(krate, inner, &generator);
                wiring.defaults.push(quote! {
                    fn #schema_fn(
                        generator: &mut #krate::asyncapi::__private::schemars::SchemaGenerator,
                    ) -> #krate::asyncapi::__private::schemars::Schema {
                        #schema
                    }
                });
                Some(schema_fn)
            }
            _ => None,
        };
        wiring.specs.push(param_spec(
            krate,
            index,
            param,
            placeholders.get(index).copied().flatten(),
            default_fn.as_ref(),
            schema_fn.as_ref(),
        ));
        let argument = format_ident!("__arg{}", index, span = Span::mixed_site());
        // The whole call carries the parameter's span, so that a type that is not an extractor
        // is reported once, on the parameter.
        let extract = respan(
            quote!(<#ty as #krate::extract::FromMessage>::from_message(&mut *__ctx, &__PARAMS[#index]).await),
            ty.span(),
        );
        wiring.extractions.push(quote! {
            let #argument = match #extract {
                ::std::result::Result::Ok(value) => value,
                ::std::result::Result::Err(rejection) => {
                    return #krate::__private::rejected(rejection);
                }
            };
        });
        wiring.arguments.push(argument);
    }
    wiring
}

/// `fn __asyncfast_sends`: what the return type sends (unless it is an `impl Trait`, which
/// cannot be named), and the `sends = [...]` messages.
fn sends_fn(krate: &Path, output: &ReturnType, sends: &[Type]) -> TokenStream {
    let returned = match output {
        ReturnType::Default => {
            Some(quote!(<() as #krate::asyncapi::DescribeOutcome>::describe_outcome(sends);))
        }
        ReturnType::Type(_, ty) if contains_impl(quote!(#ty)) => None,
        ReturnType::Type(_, ty) => Some(respan(
            quote!(<#ty as #krate::asyncapi::DescribeOutcome>::describe_outcome(sends);),
            ty.span(),
        )),
    };
    let declared = sends.iter().map(|ty| {
        respan(
            quote!(#krate::asyncapi::Sends::message::<#ty>(sends);),
            ty.span(),
        )
    });
    quote! {
        fn __asyncfast_sends(sends: &mut #krate::asyncapi::Sends<'_>) {
            #returned
            #(#declared)*
        }
    }
}

fn generate(
    function: &ItemFn,
    args: &Args,
    params: &[Param],
    placeholders: &[Option<usize>],
) -> TokenStream {
    let krate = args.krate.clone().unwrap_or_else(default_crate);
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let fn_name = ident.unraw().to_string();
    let handler = format_ident!("__channel_{}", ident.unraw(), span = ident.span());
    let address = args.address.as_ref().map(LitStr::value).unwrap_or_default();
    let name = args
        .name
        .as_ref()
        .map_or_else(|| fn_name.clone(), LitStr::value);
    let description = args
        .description
        .as_ref()
        .map(LitStr::value)
        .or_else(|| doc_comment(&function.attrs))
        .map(|text| quote!(.description(#text)));

    let Wiring {
        defaults,
        specs,
        extractions,
        arguments,
    } = wiring(&krate, params, placeholders);
    let count = params.len();
    let ctx = Ident::new("__ctx", Span::call_site());
    let output_span = match &function.sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let sends = sends_fn(&krate, &function.sig.output, &args.sends);
    let result = Ident::new("__result", output_span);
    let into_outcome = respan(
        quote!(#krate::__private::IntoOutcome::into_outcome(#result)),
        output_span,
    );
    let run = if function.sig.asyncness.is_some() {
        quote! {
            let #result = #ident(#(#arguments),*).await;
            #into_outcome
        }
    } else {
        let blocking = respan(quote!(#krate::__private::blocking), output_span);
        quote!(#blocking(move || #ident(#(#arguments),*)).await)
    };

    quote! {
        // A handler is `async` for the framework's sake, awaiting or not.
        #[allow(clippy::unused_async)]
        #function

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #handler;

        #[allow(clippy::all, clippy::pedantic)]
        const _: () = {
            #(#defaults)*

            static __PARAMS: [#krate::__private::ParamSpec; #count] = [#(#specs),*];

            #sends

            static __META: #krate::ChannelMeta = #krate::ChannelMeta::new(#address, #name)
                .function(#fn_name, ::std::module_path!())
                .params(&__PARAMS)
                .sends(__asyncfast_sends)
                .package(
                    match ::std::option_env!("CARGO_PKG_NAME") {
                        ::std::option::Option::Some(name) => name,
                        ::std::option::Option::None => "",
                    },
                    match ::std::option_env!("CARGO_PKG_VERSION") {
                        ::std::option::Option::Some(version) => version,
                        ::std::option::Option::None => "",
                    },
                    match ::std::option_env!("CARGO_PKG_DESCRIPTION") {
                        ::std::option::Option::Some(description) => description,
                        ::std::option::Option::None => "",
                    },
                )
                #description;

            impl #krate::Handler for #handler {
                fn meta(&self) -> &'static #krate::ChannelMeta {
                    &__META
                }

                #[allow(unused_variables)]
                fn call(
                    &self,
                    #ctx: &mut #krate::MessageContext<'_>,
                ) -> impl ::std::future::Future<Output = #krate::Outcome> + ::std::marker::Send {
                    async move {
                        #(#extractions)*
                        #run
                    }
                }
            }

            #krate::__private::inventory::submit! {
                #krate::__private::ChannelRegistration::new(&#handler)
            }
        };
    }
}
