//! Attachments step: upload (multipart form) and remove, each a plain form of its own.

use super::fields::ErrorSlot;
use crate::wizard_api::WizardView;
use leptos::prelude::*;

#[component]
pub fn AttachmentsStep(v: WizardView) -> impl IntoView {
    let launch = v.launch.clone();
    let full = v.attachments.len() as u32 >= v.max_attachments;
    view! {
        <section class="field" id="field-file" aria-labelledby="attachments-heading">
            <h2 id="attachments-heading" class="sub">"Attached files"</h2>
            {if v.attachments.is_empty() {
                view! { <p class="muted" data-testid="no-attachments">"No files attached. Attachments are optional."</p> }.into_any()
            } else {
                view! {
                    <ul class="attachments" data-testid="attachment-list">
                        {v.attachments
                            .into_iter()
                            .map(|a| {
                                let action = format!("/l/{}/do/detach/{}", launch, a.id);
                                let label = format!("Remove {}", a.filename);
                                view! {
                                    <li>
                                        <span class="file-name">{a.filename.clone()}</span>
                                        <span class="muted">{format!(" · {} · {}", kind(&a.content_type), a.size)}</span>
                                        <form method="post" action=action class="inline-form">
                                            <button type="submit" class="link-button" aria-label=label>"Remove"</button>
                                        </form>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }.into_any()
            }}
            <form method="post" action=format!("/l/{}/do/attach", v.launch) enctype="multipart/form-data" class="upload" data-testid="upload-form">
                <label for="file">"Add a file"</label>
                <p class="hint" id="hint-file">
                    {format!("PDF, PNG or JPEG, up to {} MB each, at most {} files.", v.max_attachment_mb, v.max_attachments)}
                </p>
                <ErrorSlot name="file" errors=v.errors.clone()/>
                <div class="upload-row">
                    <input type="file" id="file" name="file" accept="application/pdf,image/png,image/jpeg"
                        aria-describedby="hint-file error-file" disabled=full/>
                    <button type="submit" class="secondary" disabled=full>"Attach file"</button>
                </div>
            </form>
        </section>
    }
}

fn kind(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "PDF",
        "image/png" => "PNG image",
        "image/jpeg" => "JPEG image",
        _ => "file",
    }
}
