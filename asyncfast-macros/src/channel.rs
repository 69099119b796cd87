//! `#[channel("address", name = "…", description = "…", crate = path)]`.
//!
//! Leaves the function as written (minus `#[header]` attributes and doc comments on parameters)
//! and adds a hidden unit struct `__channel_<fn>` implementing `asyncfast::Handler`, registered
//! with `inventory`. Its `ChannelMeta` also wires the documentation: each parameter's
//! `FromMessage::document`, the return type's `DescribeOutcome`, the `sends = [...]` list and
//! the crate's Cargo package.
//!
//! Parameter types are not interpreted: whatever a type is called or imported as, every
//! parameter's name, placeholder position and `#[header(…)]` options go into its `ParamSpec`,
//! and the extractor reads what it needs. The checks that depend on what a parameter reads (a
//! `Param` needs its placeholder, at most one `Payload`, `#[header]` only on headers) are
//! constants on the type's `FromMessage::ROLE`, which fail to compile with the mistake's message
//! on its span.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Token, Type};

use crate::attrs::{
    ALIAS, CHANNEL_OPTIONS, CRATE, DEFAULT, DESCRIPTION, Errors, HEADER, HEADER_OPTIONS, NAME,
    SENDS, contains_impl, default_crate, doc_comment, one_of, plain_name, respan, template_error,
    unknown_option,
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

/// One handler parameter, as written. Its type is not interpreted: what the parameter reads is
/// the type's `FromMessage::ROLE`, checked by the constants of [`role_checks`].
struct Param {
    name: Option<Ident>,
    span: Span,
    ty: Type,
    /// The span of its `#[header]` attribute, if it has one.
    header_attr: Option<Span>,
    alias: Option<LitStr>,
    default: Option<Expr>,
    /// `#[header(description = "…")]`, or the parameter's doc comment.
    description: Option<String>,
}

impl Param {
    /// The name it is known by (without leading `_`), if it has a plain name.
    fn plain_name(&self) -> Option<String> {
        self.name
            .as_ref()
            .map(|name| plain_name(&name.to_string()).to_owned())
    }
}

fn parse_header_attr(attr: &syn::Attribute, param: &mut Param, errors: &mut Errors) {
    param.header_attr = Some(attr.path().span());
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

/// The parameters, and whether all of them have types the checks can name.
fn parse_params(function: &mut ItemFn, errors: &mut Errors) -> (Vec<Param>, bool) {
    let mut params = Vec::new();
    let mut nameable = true;
    for input in &mut function.sig.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                errors.error(
                    receiver.span(),
                    "a `#[channel]` handler is a free function; it cannot take `self`",
                );
                nameable = false;
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
            header_attr: None,
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
            nameable = false;
        }
        if let Type::ImplTrait(bound) = &*typed.ty {
            errors.error(
                bound.span(),
                "handler parameters have concrete types\n\n= help: name the extractor type",
            );
            nameable = false;
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
        params.push(param);
    }
    (params, nameable)
}

/// Checks the template's syntax, and that each placeholder has a parameter of its name; returns
/// the position of the placeholder named like each parameter, whatever the parameter's type.
fn check_template(
    address: &LitStr,
    function: &Ident,
    params: &[Param],
    errors: &mut Errors,
) -> Option<Vec<Option<usize>>> {
    let value = address.value();
    let template = match template::parse(&value) {
        Ok(template) => template,
        Err(error) => {
            errors.push(template_error(address.span(), &value, &error));
            return None;
        }
    };
    for placeholder in template.placeholders() {
        if !params
            .iter()
            .any(|p| p.plain_name().as_deref() == Some(placeholder))
        {
            errors.error(
                address.span(),
                format!(
                    "address placeholder `{{{placeholder}}}` has no matching parameter\n\n= help: \
                     add a parameter `{placeholder}: Param<T>` to `{function}`"
                ),
            );
        }
    }
    Some(
        params
            .iter()
            .map(|param| template.placeholder_index(&param.plain_name()?))
            .collect(),
    )
}

/// `const _: () = if <condition> { panic!(message) };` on `span`: a compile error when the
/// condition on the parameters' roles holds.
fn const_check(span: Span, condition: &TokenStream, message: &str) -> TokenStream {
    respan(
        quote! {
            const _: () = if #condition {
                ::core::panic!("{}", #message)
            };
        },
        span,
    )
}

/// `matches!(__ROLES[index], ParamRole::<role>)`: whether parameter `index` reads `role`.
fn is_role(krate: &Path, index: usize, role: &str) -> TokenStream {
    let role = Ident::new(role, Span::call_site());
    quote!(::core::matches!(__ROLES[#index], #krate::extract::ParamRole::#role))
}

/// Every placeholder is read by the `Param` of its name.
fn placeholder_checks(
    krate: &Path,
    address: &LitStr,
    params: &[Param],
    placeholders: &[Option<usize>],
    checks: &mut Vec<TokenStream>,
) {
    for (index, param) in params.iter().enumerate() {
        let (Some(name), Some(placeholder)) = (param.name.as_ref(), placeholders[index]) else {
            continue;
        };
        // A second parameter of the same plain name is reported by rustc.
        if placeholders[..index].contains(&Some(placeholder)) {
            continue;
        }
        let is_placeholder = is_role(krate, index, "Placeholder");
        let plain = plain_name(&name.to_string()).to_owned();
        checks.push(const_check(
            address.span(),
            &quote!(!#is_placeholder),
            &format!(
                "address placeholder `{{{plain}}}` has no matching parameter: `{name}` is not a \
                 `Param`\n\n= help: make it `{name}: Param<T>`"
            ),
        ));
    }
}

/// A `Param` has a plain name and a placeholder of that name.
fn param_checks(
    krate: &Path,
    address: &LitStr,
    index: usize,
    param: &Param,
    has_placeholder: bool,
    checks: &mut Vec<TokenStream>,
) {
    let is_placeholder = is_role(krate, index, "Placeholder");
    let address_text = address.value();
    match param.plain_name() {
        None => checks.push(const_check(
            param.span,
            &is_placeholder,
            "a `Param` parameter needs a plain name, which names its address placeholder",
        )),
        Some(name) if !has_placeholder => {
            checks.push(const_check(
                param.span,
                &is_placeholder,
                &format!(
                    "parameter `{name}` is a `Param`, but the address `{address_text}` has no \
                     placeholder `{{{name}}}`\n\n= help: add `{{{name}}}` to the address, or \
                     take the value from another extractor"
                ),
            ));
            checks.push(const_check(
                address.span(),
                &is_placeholder,
                &format!("the address `{address_text}` has no placeholder `{{{name}}}`"),
            ));
        }
        Some(_) => {}
    }
}

/// A header has a plain name or an alias; only headers take `#[header]`.
fn header_checks(krate: &Path, index: usize, param: &Param, checks: &mut Vec<TokenStream>) {
    let is_header = is_role(krate, index, "Header");
    if param.name.is_none() && param.alias.is_none() {
        checks.push(const_check(
            param.span,
            &is_header,
            "a `Header` parameter needs a plain name, which names the header\n\n= help: write \
             `name: Header<T>`, or give the header's name with `#[header(alias = \"…\")]`",
        ));
    }
    if let Some(span) = param.header_attr {
        checks.push(const_check(
            span,
            &quote!(!#is_header),
            "`#[header]` applies to `Header<T>` parameters\n\n= help: remove it, or make the \
             parameter a `Header<T>`",
        ));
    }
}

/// At most one payload: a payload after another is an error naming the first.
fn payload_check(krate: &Path, index: usize, params: &[Param]) -> TokenStream {
    let mut earlier = quote!({});
    for (first_index, first) in params[..index].iter().enumerate().rev() {
        let first_name = first
            .name
            .as_ref()
            .map_or_else(|| "an earlier parameter".to_owned(), |n| format!("`{n}`"));
        let message = format!(
            "a handler takes at most one `Payload` parameter; {first_name} already takes the \
             payload\n\n= help: decode the payload into one type that holds both"
        );
        let first_is_payload = is_role(krate, first_index, "Payload");
        earlier = quote! {
            if #first_is_payload {
                ::core::panic!("{}", #message)
            } else #earlier
        };
    }
    let is_payload = is_role(krate, index, "Payload");
    respan(
        quote! {
            const _: () = if #is_payload { #earlier };
        },
        params[index].ty.span(),
    )
}

/// The checks that depend on what each parameter reads (its type's `FromMessage::ROLE`), as
/// constants that fail to evaluate with the message of the mistake, on its span.
fn role_checks(
    krate: &Path,
    address: &LitStr,
    params: &[Param],
    placeholders: &[Option<usize>],
) -> TokenStream {
    let roles = params.iter().map(|param| {
        let ty = &param.ty;
        respan(
            quote!(<#ty as #krate::extract::FromMessage>::ROLE),
            ty.span(),
        )
    });
    let count = params.len();
    let mut checks = Vec::new();
    placeholder_checks(krate, address, params, placeholders, &mut checks);
    for (index, param) in params.iter().enumerate() {
        let has_placeholder = placeholders[index].is_some();
        param_checks(krate, address, index, param, has_placeholder, &mut checks);
        header_checks(krate, index, param, &mut checks);
        if index > 0 {
            checks.push(payload_check(krate, index, params));
        }
    }
    quote! {
        #[allow(clippy::all, clippy::pedantic)]
        const _: () = {
            const __ROLES: [#krate::extract::ParamRole; #count] = [#(#roles),*];
            #(#checks)*
        };
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
    let (params, nameable) = parse_params(&mut function, &mut errors);
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
        None
    };
    let krate = args.krate.clone().unwrap_or_else(default_crate);
    // The checks that depend on the parameters' types run even when the macro found other
    // mistakes, so that every one is reported at once.
    let checks = match (&args.address, &placeholders) {
        (Some(address), Some(placeholders)) if nameable => {
            role_checks(&krate, address, &params, placeholders)
        }
        _ => TokenStream::new(),
    };
    match errors.finish() {
        Ok(()) => {
            let placeholders = placeholders.unwrap_or_default();
            let generated = generate(&function, &args, &krate, &params, &placeholders);
            quote!(#generated #checks)
        }
        Err(error) => {
            // Keep the function, so that the only errors are ours (and the role checks').
            let error = error.to_compile_error();
            quote!(#function #error #checks)
        }
    }
}

/// The `ParamSpec` of a parameter: everything its declaration says, whatever its type; the
/// extractor reads the part it needs.
fn param_spec(
    krate: &Path,
    index: usize,
    param: &Param,
    placeholder: Option<usize>,
    default_fn: Option<&Ident>,
    schema_fn: &Ident,
) -> TokenStream {
    let name = param
        .name
        .as_ref()
        .map_or_else(|| format!("_{index}"), ToString::to_string);
    let ty = &param.ty;
    let mut spec = quote! {
        #krate::__private::ParamSpec::new(#name, #index).header_name({
            const __HEADER: #krate::__private::KebabName<{ #name.len() }> =
                #krate::__private::KebabName::new(#name);
            __HEADER.as_str()
        })
    };
    if let Some(alias) = &param.alias {
        spec = quote!(#spec.alias(#alias));
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
    let prepare = respan(
        quote!(<#ty as #krate::extract::FromMessage>::prepare),
        ty.span(),
    );
    let document = respan(
        quote!(<#ty as #krate::extract::FromMessage>::document),
        ty.span(),
    );
    quote! {
        #spec
            .value_schema(#schema_fn)
            .prepare_with(#prepare)
            .document_with(#document)
    }
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
        // The schema of `T` if the parameter is a `Param<T>`, for the channel parameter.
        let schema_fn = format_ident!("__asyncfast_schema_{}", index);
        wiring.defaults.push(quote! {
            fn #schema_fn(
                generator: &mut #krate::asyncapi::__private::schemars::SchemaGenerator,
            ) -> ::std::option::Option<#krate::asyncapi::__private::schemars::Schema> {
                #[allow(unused_imports)]
                use #krate::__private::{
                    ParamViaBytes as _, ParamViaDisplay as _, ParamViaJsonSchema as _,
                    ParamViaOther as _,
                };
                (&&&&#krate::__private::ParamProbe::<#ty>::new()).param_schema(generator)
            }
        });
        wiring.specs.push(param_spec(
            krate,
            index,
            param,
            placeholders.get(index).copied().flatten(),
            default_fn.as_ref(),
            &schema_fn,
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
    krate: &Path,
    params: &[Param],
    placeholders: &[Option<usize>],
) -> TokenStream {
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
    } = wiring(krate, params, placeholders);
    let count = params.len();
    let ctx = Ident::new("__ctx", Span::call_site());
    let output_span = match &function.sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let sends = sends_fn(krate, &function.sig.output, &args.sends);
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
