"""The filter sets build their form class once, and each request still gets a form of its own."""

from __future__ import annotations

from django.http import QueryDict

from schemaadmin.filters import AuditFilter, ConversationFilter, MessageSearchFilter
from schemaadmin.models import AuditEvent, Conversation, Message


def test_each_request_gets_its_own_form_and_errors_though_the_form_class_is_shared():
    bad = ConversationFilter(QueryDict("min_messages=-3&channel=fax"), queryset=Conversation.objects.none())
    good = ConversationFilter(QueryDict("min_messages=3&channel=sms"), queryset=Conversation.objects.none())
    assert type(bad.form) is type(good.form)
    assert not bad.is_valid() and set(bad.form.errors) == {"min_messages", "channel"}
    assert good.is_valid() and good.form.errors == {}
    assert good.form.cleaned_data["min_messages"] == 3 and good.form.cleaned_data["channel"] == "sms"
    # A change to one form's field or widget (BootstrapForm adds classes) stays in that form.
    bad.form.fields["user"].widget.attrs["data-marked"] = "yes"
    assert "data-marked" not in good.form.fields["user"].widget.attrs
    assert (
        "data-marked"
        not in ConversationFilter(QueryDict(), queryset=Conversation.objects.none()).form.fields["user"].widget.attrs
    )


def test_each_filter_set_class_has_its_own_form():
    forms = [
        ConversationFilter(QueryDict(), queryset=Conversation.objects.none()).form,
        MessageSearchFilter(QueryDict(), queryset=Message.objects.none()).form,
        AuditFilter(QueryDict(), queryset=AuditEvent.objects.none()).form,
    ]
    assert len({type(form) for form in forms}) == 3
    # "role" means "has a message from" on the list and "message from" on a search.
    assert forms[0].fields["role"].label == "Has a message from" and forms[1].fields["role"].label == "Message from"
    assert "actor" in forms[2].fields and "role" not in forms[2].fields
