//! `#[derive(Message)]`: `#[message(address = "…")]` on the struct; `#[payload]`,
//! `#[header(alias = "…")]` and `#[binding(kind)]` on fields; fields named in the address fill
//! its placeholders.
//!
//! Implements `asyncfast::Message` (encoding) and `asyncfast::asyncapi::DescribeMessage` (the
//! message's documentation: name, address, doc comment, and each field's part).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::attrs::{
    ADDRESS, ALIAS, BINDING, BINDING_FIELDS, CRATE, Errors, HEADER, MESSAGE, MESSAGE_OPTIONS, NAME,
    PAYLOAD, default_crate, doc_comment, documented_binding, header_name, one_of, option_str,
    respan, template_error, unknown_option, value_schema,
};
use crate::template::{self, Part};

#[derive(Default)]
struct Options {
    address: Option<LitStr>,
    name: Option<LitStr>,
    krate: Option<Path>,
}

fn parse_options(input: &DeriveInput, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident(MESSAGE)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(ADDRESS) {
                options.address = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident(NAME) {
                options.name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident(CRATE) {
                options.krate = Some(meta.value()?.call(Path::parse_mod_style)?);
            } else {
                return Err(unknown_option(&meta, MESSAGE, MESSAGE_OPTIONS));
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    options
}

/// What a field is for.
enum Role {
    /// Only used in the address (or an error if not).
    Plain,
    Payload,
    Header(String),
    Binding(Ident),
}

struct Field {
    ident: Ident,
    ty: Type,
    doc: Option<String>,
    role: Role,
}

fn field_role(field: &syn::Field, ident: &Ident, errors: &mut Errors) -> Role {
    let mut role = Role::Plain;
    let mut set = |new: Role, span: Span, errors: &mut Errors| {
        if matches!(role, Role::Plain) {
            role = new;
        } else {
            errors.error(
                span,
                "a field is one of `#[payload]`, `#[header]` or `#[binding(…)]`, not several",
            );
        }
    };
    for attr in &field.attrs {
        if attr.path().is_ident(PAYLOAD) {
            if let Err(error) = attr.meta.require_path_only() {
                errors.push(error);
            }
            set(Role::Payload, attr.span(), errors);
        } else if attr.path().is_ident(HEADER) {
            let mut name = header_name(&ident.unraw().to_string());
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident(ALIAS) {
                        name = meta.value()?.parse::<LitStr>()?.value();
                        Ok(())
                    } else {
                        Err(meta.error(format!(
                            "unknown `#[header]` option on a message field\n\n= help: the option \
                             is `{ALIAS}`"
                        )))
                    }
                });
                if let Err(error) = result {
                    errors.push(error);
                }
            }
            set(Role::Header(name), attr.span(), errors);
        } else if attr.path().is_ident(BINDING) {
            match attr.parse_args::<Ident>() {
                Ok(kind) if BINDING_FIELDS.contains(&kind.to_string().as_str()) => {
                    set(Role::Binding(kind), attr.span(), errors);
                }
                Ok(kind) => errors.error(
                    kind.span(),
                    format!(
                        "unknown binding field `{kind}`\n\n= help: the binding fields are {}",
                        one_of(BINDING_FIELDS)
                    ),
                ),
                Err(error) => errors.push(syn::Error::new(
                    error.span(),
                    format!(
                        "expected `#[binding(field)]`, with field one of {}",
                        one_of(BINDING_FIELDS)
                    ),
                )),
            }
        }
    }
    role
}

/// Expands `#[derive(Message)]`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let options = parse_options(&input, &mut errors);
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(&fields.named),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        return syn::Error::new(
            input.ident.span(),
            "`#[derive(Message)]` applies to structs with named fields",
        )
        .to_compile_error();
    };
    let fields: Vec<Field> = named
        .iter()
        .filter_map(|field| {
            let ident = field.ident.clone()?;
            let role = field_role(field, &ident, &mut errors);
            Some(Field {
                ident,
                ty: field.ty.clone(),
                doc: doc_comment(&field.attrs),
                role,
            })
        })
        .collect();
    let mut payloads = fields.iter().filter(|f| matches!(f.role, Role::Payload));
    if payloads.next().is_some() {
        for extra in payloads {
            errors.error(
                extra.ident.span(),
                "a message has at most one `#[payload]` field",
            );
        }
    }
    let Some(address) = &options.address else {
        errors.error(
            input.ident.span(),
            "a message needs an address\n\n= help: add `#[message(address = \"order.processed\")]`",
        );
        return errors
            .finish()
            .err()
            .map(|e| e.to_compile_error())
            .unwrap_or_default();
    };
    let value = address.value();
    let template = match template::parse(&value) {
        Ok(template) => Some(template),
        Err(error) => {
            errors.push(template_error(address.span(), &value, &error));
            None
        }
    };
    let placeholders: Vec<&str> = template
        .as_ref()
        .map(|t| t.placeholders().collect())
        .unwrap_or_default();
    for placeholder in &placeholders {
        if !fields.iter().any(|f| f.ident.unraw() == placeholder) {
            errors.error(
                address.span(),
                format!(
                    "address placeholder `{{{placeholder}}}` has no field of that name\n\n= help: \
                     add a field `{placeholder}`"
                ),
            );
        }
    }
    for field in &fields {
        let name = field.ident.unraw().to_string();
        if matches!(field.role, Role::Plain) && !placeholders.contains(&name.as_str()) {
            errors.error(
                field.ident.span(),
                format!(
                    "field `{name}` is not part of the message\n\n= help: mark it `#[payload]`, \
                     `#[header]` or `#[binding(…)]`, or use `{{{name}}}` in the address"
                ),
            );
        }
    }
    if let Err(error) = errors.finish() {
        return error.to_compile_error();
    }
    let Some(template) = template else {
        return TokenStream::new();
    };
    generate(&input, &options, &template, &fields)
}

fn generate(
    input: &DeriveInput,
    options: &Options,
    template: &template::Template,
    fields: &[Field],
) -> TokenStream {
    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let private = quote!(#krate::__private);
    let ident = &input.ident;
    let message_name = options
        .name
        .as_ref()
        .map_or_else(|| ident.to_string(), LitStr::value);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let parts = template.parts().into_iter().map(|part| match part {
        Part::Literal(text) => quote!(#private::AddressPart::Literal(#text)),
        Part::Placeholder(name) => {
            let field = fields
                .iter()
                .find(|f| f.ident.unraw() == name)
                .map(|f| &f.ident);
            quote!(#private::AddressPart::Field(&self.#field))
        }
    });
    let headers = fields.iter().filter_map(|field| match &field.role {
        Role::Header(name) => {
            let member = &field.ident;
            Some(quote_spanned!(member.span()=>
                #private::push_header(&mut headers, #name, &self.#member);
            ))
        }
        _ => None,
    });
    let bindings = fields.iter().filter_map(|field| match &field.role {
        Role::Binding(kind) => {
            let member = &field.ident;
            Some(quote_spanned!(member.span()=>
                #private::binding_fields::#kind(&mut bindings, self.#member);
            ))
        }
        _ => None,
    });
    let payload = fields
        .iter()
        .find(|f| matches!(f.role, Role::Payload))
        .map_or_else(
            || quote!(::std::option::Option::None),
            |field| {
                let member = &field.ident;
                quote_spanned!(member.span()=>
                    ::std::option::Option::Some(#private::encode_payload(self.#member, #message_name)?)
                )
            },
        );
    let headers_mut = if fields.iter().any(|f| matches!(f.role, Role::Header(_))) {
        quote!(mut)
    } else {
        quote!()
    };
    let bindings_mut = if fields.iter().any(|f| matches!(f.role, Role::Binding(_))) {
        quote!(mut)
    } else {
        quote!()
    };

    let describe = describe(input, options, template, fields, &krate, &message_name);

    quote! {
        #[allow(clippy::all, clippy::pedantic)]
        const _: () = {
            #describe

            impl #impl_generics #krate::Message for #ident #ty_generics #where_clause {
                fn into_message_send(
                    self,
                ) -> ::std::result::Result<#private::MessageSend, #krate::EncodeError> {
                    let address = #private::format_address(&[#(#parts),*]);
                    let #headers_mut headers = #private::Headers::new();
                    #(#headers)*
                    let #bindings_mut bindings = #private::Bindings::new();
                    #(#bindings)*
                    let payload = #payload;
                    ::std::result::Result::Ok(#private::assemble(address, headers, bindings, payload))
                }
            }
        };
    }
}

/// Whether `ty` mentions one of the struct's type parameters.
fn is_generic(ty: &Type, input: &DeriveInput) -> bool {
    fn mentions(tokens: TokenStream, names: &[String]) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => names.contains(&ident.to_string()),
            proc_macro2::TokenTree::Group(group) => mentions(group.stream(), names),
            _ => false,
        })
    }
    let names: Vec<String> = input
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    !names.is_empty() && mentions(quote!(#ty), &names)
}

/// `impl DescribeMessage`: the address placeholders (in template order), headers, payload and
/// Kafka key of the message.
fn describe(
    input: &DeriveInput,
    options: &Options,
    template: &template::Template,
    fields: &[Field],
    krate: &Path,
    message_name: &str,
) -> TokenStream {
    let private = quote!(#krate::asyncapi::__private);
    let ident = &input.ident;
    let address = options
        .address
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_default();
    let documentation = option_str(doc_comment(&input.attrs).as_deref());
    let generator = quote!(#krate::asyncapi::OperationDoc::generator(doc));
    let mut statements = Vec::new();
    for name in template.placeholders() {
        let Some(field) = fields.iter().find(|f| f.ident.unraw() == name) else {
            continue;
        };
        let schema = value_schema(krate, &field.ty, &generator);
        let description = option_str(field.doc.as_deref());
        statements.push(quote! {
            let schema = #schema;
            #private::sent_parameter(doc, #name, #description, schema);
        });
    }
    let mut bounds = Vec::new();
    for field in fields {
        let ty = &field.ty;
        match &field.role {
            Role::Header(name) => {
                let description = option_str(field.doc.as_deref());
                statements.push(respan(
                    quote!(#private::sent_header::<#ty>(doc, #name, #description);),
                    ty.span(),
                ));
            }
            Role::Payload => {
                if is_generic(ty, input) {
                    bounds.push(quote!(#ty: #private::schemars::JsonSchema + 'static));
                }
                statements.push(respan(
                    quote!(#private::sent_payload::<#ty>(doc);),
                    ty.span(),
                ));
            }
            Role::Binding(kind) => {
                if let Some((protocol, binding_field)) = documented_binding(&kind.to_string()) {
                    let schema = value_schema(krate, ty, &generator);
                    let description = option_str(field.doc.as_deref());
                    statements.push(quote! {
                        let schema = #schema;
                        #private::sent_message_binding(
                            doc, #protocol, #binding_field, #description, schema,
                        );
                    });
                }
            }
            Role::Plain => {}
        }
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    predicates.extend(bounds);
    let where_clause = (!predicates.is_empty()).then(|| quote!(where #(#predicates),*));
    quote! {
        impl #impl_generics #krate::asyncapi::DescribeMessage for #ident #ty_generics #where_clause {
            const NAME: &'static str = #message_name;
            const ADDRESS: &'static str = #address;
            const DOCUMENTATION: ::std::option::Option<&'static str> = #documentation;

            #[allow(unused_variables)]
            fn describe(doc: &mut #krate::asyncapi::OperationDoc<'_>) {
                #(#statements)*
            }
        }
    }
}
